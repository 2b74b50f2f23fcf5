"""Run a bundle's single-step TFLite model, looking tensors up by signature name."""

from __future__ import annotations

import logging

import numpy as np

from edge.bundle import Bundle, BundleError, select_runtime

log = logging.getLogger(__name__)


def _interpreter_class(runtime: str) -> type:
    if runtime == "ai_edge_litert":
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    if runtime == "tflite_runtime":
        from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]

        return Interpreter
    raise BundleError(f"unknown runtime {runtime!r}")


class LiteRTStepper:
    """One model step per call: input features and state in, outputs and next state out.

    The state inputs/outputs are paired by the manifest's ``states``; each ``step`` copies
    the next state into the state inputs, so consecutive calls stream.

    No copies through the interpreter's API per step: the input, state and output
    tensors are numpy views of the interpreter's own buffers, taken once
    (``Interpreter.tensor``), and the step invokes the wrapped C++ interpreter directly.
    The public ``invoke()`` refuses to run while such views exist, because
    ``allocate_tensors``/``resize_tensor_input`` could move the buffers; this class
    calls neither after construction, and checks once that an invoke leaves every
    buffer where it was (static shapes only).

    Args:
        bundle: a verified bundle.
        num_threads: interpreter threads (1 on the Pi: the loop is latency bound).
        runtime: force ``"ai_edge_litert"`` or ``"tflite_runtime"``; default: the first
            installed one that meets the manifest's minimum.
    """

    def __init__(self, bundle: Bundle, *, num_threads: int = 1, runtime: str | None = None):
        manifest = bundle.manifest
        self.runtime = runtime or select_runtime(manifest)
        cls = _interpreter_class(self.runtime)
        try:
            self._interp = cls(model_content=bundle.model_bytes, num_threads=num_threads)
        except Exception as exc:  # a flatbuffer the runtime cannot load
            raise BundleError(f"{self.runtime} cannot load the model: {exc}") from exc
        self._interp.allocate_tensors()
        signatures = self._interp.get_signature_list()
        if len(signatures) != 1:
            raise BundleError(f"model must have exactly one signature, has {list(signatures)}")
        key = next(iter(signatures))
        runner = self._interp.get_signature_runner(key)
        inputs = runner.get_input_details()
        outputs = runner.get_output_details()
        del runner

        def index(details: dict, name: str, what: str) -> int:
            if name not in details:
                raise BundleError(f"model has no {what} tensor named {name!r}: {sorted(details)}")
            return int(details[name]["index"])

        self._in = index(inputs, manifest.input_tensor.name, "input")
        want = tuple(manifest.input_tensor.shape)
        got = tuple(int(d) for d in inputs[manifest.input_tensor.name]["shape"])
        if got != want:
            raise BundleError(
                f"input {manifest.input_tensor.name} has shape {got}, manifest {want}"
            )
        self._state_pairs = [
            (index(inputs, s.input, "state input"), index(outputs, s.output, "state output"))
            for s in manifest.states
        ]
        self.output_index = {
            group: index(outputs, spec.tensor, "output") for group, spec in manifest.outputs.items()
        }
        self.input_details = inputs
        self.output_details = outputs
        self._bind_views()

    def _view(self, tensor_index: int) -> np.ndarray:
        return self._interp.tensor(tensor_index)()

    def _bind_views(self) -> None:
        """Take the buffer views once; check an invoke does not move them."""
        inputs = [self._in, *(i for i, _ in self._state_pairs)]
        indices = inputs + [o for _, o in self._state_pairs] + list(self.output_index.values())
        for i in inputs:
            self._interp.set_tensor(i, np.zeros(self._interp.get_tensor(i).shape, np.float32))
        self._interp.invoke()  # through the public API: no view (or reference) exists yet
        raw = getattr(self._interp, "_interpreter", None)
        if raw is None or not hasattr(raw, "Invoke"):
            raise BundleError(f"{self.runtime}: interpreter without a raw Invoke")
        views = {i: self._view(i) for i in indices}
        where = {i: v.ctypes.data for i, v in views.items()}
        raw.Invoke()
        if any(self._view(i).ctypes.data != where[i] for i in indices):
            raise BundleError("the model's tensors move between invokes (dynamic shapes)")
        #: (1, F) float32 view of the input tensor: write features here, then :meth:`invoke`.
        self.input = views[self._in]
        #: the state input views (the state the next step starts from)
        self._states = [views[i] for i, _ in self._state_pairs]
        self._state_copies = [(views[i], views[o]) for i, o in self._state_pairs]
        self._outputs = {g: views[i] for g, i in self.output_index.items()}
        self._invoke = raw.Invoke
        self.reset()

    def reset(self) -> None:
        """Zero the recurrent state (start of a new recording)."""
        for s in self._states:
            s.fill(0.0)

    def invoke(self) -> None:
        """One step on the features already in :attr:`input`; the state advances."""
        self._invoke()
        for state_in, state_out in self._state_copies:
            np.copyto(state_in, state_out)

    def invoke_interpreter(self) -> None:
        """The interpreter's invoke alone, the state not advanced (to time it apart)."""
        self._invoke()

    def step(self, features: np.ndarray) -> None:
        """Run one step on (1, F) float32 normalised features; read results with ``output``."""
        np.copyto(self.input, features)
        self.invoke()

    def output(self, group: str) -> np.ndarray:
        """The raw (1, k) output tensor of a manifest output group after the last step (a
        view of the interpreter's buffer, overwritten by the next step: copy to keep)."""
        return self._outputs[group]

    def ops(self) -> list[str]:
        """Operator names in the model (e.g. to check for Flex/custom ops)."""
        return sorted({d["op_name"] for d in self._interp._get_ops_details()})
