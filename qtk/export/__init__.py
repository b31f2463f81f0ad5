"""Shipping a model outside PyTorch: ONNX export with the Hugging Face Optimum decoder interface,
verification against torch with onnxruntime, onnxruntime weight quantization, and decoding with
an exported model (`qtk export-onnx`, `qtk generate --onnx`, `qtk quantize --format onnx`).

- wrapper.py: the module that is traced (positions, padding mask and past keys/values as inputs)
- trace.py: torch.onnx.export (dynamo), opset checks, failures named by component
- verify.py: logits parity, greedy token match, prefill/decode timing
- quantize.py: dynamic int8 and MatMulNBits int4
- runtime.py: onnxruntime sessions, the decode step, loading a model with its tokenizer/config
- files.py: staging directory, --force, the files beside the .onnx
- onnx.py: the pipeline (`export_onnx`, `export_quantized`)
"""
