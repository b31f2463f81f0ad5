"""Shipping a smaller model: pruning (`qtk compress`) and weight-only quantization (`qtk quantize`).

- sparsity.py: sparsity specs ("0.5", "2:4"), pruning masks (magnitude, Wanda) and exact checks
- calib.py: calibration sequences and block-by-block activation statistics via forward hooks
- quant.py: int8 / int4 round-to-nearest, int4 packing; gptq.py and awq.py: calibrated int4
- qlinear.py: QuantLinear (dequantize on the fly) and the runtimes a loaded quantized checkpoint
  runs with (torch dynamic int8 on CPU, dense fp32 for export); `qtk.load` applies them
- measure.py: held-out metrics on fixed windows, tokens/s, sizes
- prune.py / quantize.py: the two commands' core functions
"""
