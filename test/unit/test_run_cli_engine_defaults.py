"""`tvau run --engine ahd` without a checkpoint runs the shipped model instead of failing."""
import argparse

import yaml

from tvau_ros.cli.run_cmd import SHIPPED_AHD, packaged_config, pipeline_config_from_args


def args(**given):
    return argparse.Namespace(**{"config": None, "engine": None, "checkpoint": None, **given})


def test_engine_ahd_alone_takes_the_packaged_ahd_pipeline():
    cfg = pipeline_config_from_args(args(engine="ahd"))
    shipped = yaml.safe_load(packaged_config("pipeline_ahd.yaml").read_text())
    assert cfg["engine"] == "ahd" and cfg["ahd"]["checkpoint"] == SHIPPED_AHD == shipped["ahd"]["checkpoint"]
    assert cfg["clip"]["stride"] == shipped["clip"]["stride"] == 8  # the clips the model was made for


def test_a_user_config_without_checkpoint_keeps_its_settings_and_gets_the_shipped_model(tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text("regions:\n  threshold: 0.3\nclip:\n  stride: 4\n")
    cfg = pipeline_config_from_args(args(config=str(config), engine="ahd"))
    assert cfg["ahd"]["checkpoint"] == SHIPPED_AHD
    assert cfg["regions"]["threshold"] == 0.3 and cfg["clip"]["stride"] == 4


def test_an_explicit_checkpoint_and_the_default_engine_are_left_alone(tmp_path):
    assert pipeline_config_from_args(args(checkpoint="my.safetensors"))["ahd"]["checkpoint"] == "my.safetensors"
    cfg = pipeline_config_from_args(args())
    assert cfg["engine"] == "behaviour" and cfg["ahd"]["checkpoint"] == ""
