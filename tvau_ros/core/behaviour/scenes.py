"""Scene models on a running robot: switch the waypoint's model, learn a new one from the live
stream (ROS-free; the heatmap node's ``scene`` parameter, ``~/scene`` topic and
``~/learn_normal`` service call it).

>>> from tvau_ros.core.behaviour.engine import BehaviourConfig, BehaviourEngine
>>> from tvau_ros.core.behaviour.scene_model import SceneModel
>>> manager = SceneManager(BehaviourEngine(BehaviourConfig(), SceneModel.empty("generic")), "/nonexistent")
>>> manager.switch("dock_3")
'scene model not found: /nonexistent/dock_3.safetensors; using the generic model'
>>> manager.switch("")
'using the generic model'
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tvau_ros.core.behaviour.engine import BehaviourEngine, load_scene_model
from tvau_ros.core.behaviour.learning import check_learning
from tvau_ros.core.behaviour.scene_model import SceneModelError

SCENE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SceneRequestError(ValueError):
    """A scene request that cannot be carried out; the message says why."""


@dataclass
class LearnedScene:
    path: Path
    frames: int
    tracks: int
    warnings: list[str]


class SceneManager:
    def __init__(self, engine: BehaviourEngine, scene_dir: str | Path):
        self.engine = engine
        self.scene_dir = Path(scene_dir)
        self._learning: dict | None = None  # scene, deadline_s, activate, started_s

    def switch(self, name: str) -> str:
        """Use scene ``name`` (a name in ``scene_dir`` or a path; '' = the generic model). A model
        that cannot be loaded leaves the engine on the generic model; the returned text (and the
        engine's status) says why."""
        if not name:
            self.engine.set_scene_model(None)
            return "using the generic model"
        try:
            model = load_scene_model(name, self.scene_dir)
        except SceneModelError as exc:
            warning = f"{exc}; using the generic model"
            self.engine.set_scene_model(None, warning)
            return warning
        self.engine.set_scene_model(model)
        return f"using scene model {model.name!r}"

    @property
    def learning(self) -> bool:
        return self._learning is not None

    def start_learning(self, scene: str, duration_s: float, activate: bool, now_s: float) -> str:
        """Begin learning ``scene`` from the frames to come (for ``duration_s`` seconds; 0 = until ``stop``)."""
        if not SCENE_NAME.match(scene or ""):
            raise SceneRequestError(f"scene name must be 1-64 letters, digits, '_', '-' or '.', got {scene[:80]!r}")
        if not duration_s >= 0:
            raise SceneRequestError(f"duration_s must be >= 0, got {duration_s}")
        if self._learning is not None:
            raise SceneRequestError(f"already learning scene {self._learning['scene']!r}; STOP or CANCEL it first")
        self.engine.start_learning()
        self._learning = {"scene": scene, "deadline_s": now_s + duration_s if duration_s else None,
                          "activate": activate}
        until = f"for {duration_s:g} s" if duration_s else "until STOP"
        return f"learning scene {scene!r} {until}"

    def due(self, now_s: float) -> bool:
        """A timed learning session whose time is up (``stop`` it)."""
        return self._learning is not None and self._learning["deadline_s"] is not None \
            and now_s >= self._learning["deadline_s"]

    def stop(self) -> LearnedScene:
        """Fit and save the scene model (and switch to it when asked); SceneRequestError when no
        session runs or nothing usable was seen (the session ends either way)."""
        if self._learning is None:
            raise SceneRequestError("not learning: send START first")
        session, self._learning = self._learning, None
        try:
            model = self.engine.finish_learning(session["scene"], {"source": "live stream"})
        except SceneModelError as exc:
            raise SceneRequestError(str(exc)) from None
        path = model.save(self.scene_dir / session["scene"])
        warnings = check_learning(model, float(model.card.get("seconds", 0.0) or 0.0), self.engine.generic)
        if session["activate"]:
            self.engine.set_scene_model(model)
        return LearnedScene(path, int(model.card.get("frames", 0)), int(model.card.get("tracks", 0)), warnings)

    def cancel(self) -> str:
        if self._learning is None:
            raise SceneRequestError("not learning: nothing to cancel")
        scene, self._learning = self._learning["scene"], None
        self.engine.cancel_learning()
        return f"learning scene {scene!r} cancelled"
