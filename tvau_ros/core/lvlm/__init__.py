"""The LVLM path (``qwen2_5_vl``): a frozen Qwen2.5-VL with RAE anomaly prompts and LoRA.

- ``answerer``: ``LvlmAnswerer`` (load, generate / stream, LoRA, save / load adapters).
- ``chat``: chat template and the token sequence of eq. 14.
- ``video``: the Qwen2.5-VL video processor's resize / normalise / patchify, without torchvision.
- ``files``: checks of model and adapter folders (errors name the file).
- ``tiny``: random-weight Qwen2.5-VL configs (tests, the ablation, the GPU benchmark's shapes).
- ``dialogue_data`` / ``evaluate``: dialogue JSONL -> training clips; per-sample predictions and scores.

Docs: docs/rae_lvlm.md.
"""
from tvau_ros.core.lvlm.answerer import AnswererSettings, LoraSettings, LvlmAnswerer  # noqa: F401
from tvau_ros.core.lvlm.files import LvlmFilesError  # noqa: F401
