"""ONNX Runtime weight quantization of an exported fp32 model.

- int8: `onnxruntime.quantization.quantize_dynamic`: MatMul weights int8 per output channel
  (symmetric), activations quantized on the fly per tensor (DynamicQuantizeLinear + MatMulInteger,
  fused by ORT into DynamicQuantizeMatMul).
- int4: `MatMulNBitsQuantizer`: MatMul weights to com.microsoft.MatMulNBits, 4-bit symmetric,
  one scale per block of `block_size` input columns (a power of two >= 16; 32 or 128 usual).
Embedding lookups (Gather) stay fp32 in both.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from qtk.errors import QtkError, UsageError

METHODS = ("int8", "int4")


def check_block_size(block_size: int) -> None:
    if block_size < 16 or block_size & (block_size - 1):
        raise UsageError(f"--group {block_size}: MatMulNBits needs a power of two >= 16 (32 or 128 usual)")


def quantize(src: Path, dst: Path, method: str, block_size: int = 128, external_data: bool = False) -> None:
    """Write the `method`-quantized version of the fp32 model `src` to `dst`."""
    if method not in METHODS:
        raise UsageError(f"unknown ONNX quantization {method!r} (known: {', '.join(METHODS)})")
    if method == "int4":
        check_block_size(block_size)
    folded = dst.with_name(f"folded-{dst.name}")
    try:
        with _quiet_logging():
            fold_weight_transposes(src, folded, external_data)
            if method == "int8":
                _int8(folded, dst, external_data)
            else:
                _int4(folded, dst, block_size, external_data)
    except (UsageError, QtkError):
        raise
    except Exception as e:  # the quantizers raise assorted types
        raise QtkError(f"onnxruntime {method} quantization failed: {type(e).__name__}: {str(e)[:200]}") from None
    finally:
        folded.unlink(missing_ok=True)
        folded.with_name(folded.name + ".data").unlink(missing_ok=True)


@contextmanager
def _quiet_logging() -> Iterator[None]:
    """The quantizers log every node at INFO, and importing matmul_nbits_quantizer calls
    logging.basicConfig (a root handler for the whole process): silence both, then undo."""
    root, qlog = logging.getLogger(), logging.getLogger("onnxruntime.quantization")
    handlers, levels = list(root.handlers), (root.level, qlog.level)
    root.setLevel(logging.ERROR)
    qlog.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
        root.setLevel(levels[0])
        qlog.setLevel(levels[1])


def fold_weight_transposes(src: Path, dst: Path, external_data: bool) -> None:
    """Give each MatMul fed by Transpose(initializer) its own transposed initializer. A tied LM
    head reaches its MatMul that way (the embedding's Gather keeps the original), and the
    quantizers only touch MatMuls whose weight is an initializer."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    inits = {t.name: t for t in model.graph.initializer}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for node in list(model.graph.node):
        if node.op_type != "Transpose" or node.input[0] not in inits:
            continue
        users = consumers.get(node.output[0], [])
        if not users or any(u.op_type != "MatMul" for u in users):
            continue
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        array = numpy_helper.to_array(inits[node.input[0]]).transpose(perm)
        model.graph.initializer.append(numpy_helper.from_array(array.copy(), node.output[0]))
        model.graph.node.remove(node)
    onnx.save(model, str(dst), save_as_external_data=external_data)


def _int8(src: Path, dst: Path, external_data: bool) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(src, dst, op_types_to_quantize=["MatMul"], per_channel=True,
                     weight_type=QuantType.QInt8, use_external_data_format=external_data)


def _int4(src: Path, dst: Path, block_size: int, external_data: bool) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    q = MatMulNBitsQuantizer(onnx.load(str(src)), bits=4, block_size=block_size, is_symmetric=True,
                             accuracy_level=ACCURACY_LEVEL)
    q.process()
    q.model.save_model_to_file(str(dst), use_external_data_format=external_data)


# MatMulNBits compute type: 0 = fp32 (dequantize the weights), 4 = int8 activations; 4 decoded
# ~1.35x faster on this CPU (small model, 1 thread: 0.90-0.96 vs 1.22-1.31 ms/token)
ACCURACY_LEVEL = 4
