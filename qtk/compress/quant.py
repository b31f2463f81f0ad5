"""Weight-only integer quantization: the grids and round-to-nearest (RTN).

int8: one symmetric scale per output channel, scale = max|w| / 127, q in [-127, 127].
int4: one scale per group of `group` input columns (symmetric: scale = max|w| / 7, q in [-8, 7];
with a zero point: scale = (max - min) / 15 over a range that includes 0, q in [0, 15]), two
4-bit values packed per byte (even column in the low nibble). Scales are stored as fp16 and
the codes are rounded against the stored scale, so dequantization error stays within half a step
(plus clamping of the one extreme value). The last group of a row may be partial: rows are padded
with zeros to whole groups and the padding is dropped on dequantization.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qtk.errors import UsageError


@dataclass(frozen=True)
class QSpec:
    bits: int
    group: int           # input columns per scale; 0 = the whole row (per output channel)
    zero_point: bool = False

    def group_for(self, in_features: int) -> int:
        return self.group if 0 < self.group < in_features else in_features

    @property
    def qmin(self) -> int:
        return 0 if self.zero_point else -(2 ** (self.bits - 1))

    @property
    def qmax(self) -> int:
        return 2 ** self.bits - 1 if self.zero_point else 2 ** (self.bits - 1) - 1

    def to_json(self) -> dict:
        return {"bits": self.bits, "group": self.group, "zero_point": self.zero_point}


def make_spec(bits: int, group: int | None, zero_point: bool) -> QSpec:
    if bits not in (4, 8):
        raise UsageError(f"--bits {bits}: expected 8 or 4")
    if bits == 8:
        if group:
            raise UsageError("--group applies to --bits 4; int8 is always one scale per output channel")
        if zero_point:
            raise UsageError("--zero-point applies to --bits 4; int8 is symmetric")
        return QSpec(8, 0, False)
    group = 128 if group is None else group
    if group < 2 or group % 2:
        raise UsageError(f"--group {group}: expected an even group size such as 32, 64 or 128")
    return QSpec(4, group, zero_point)


def grid(w: torch.Tensor, spec: QSpec) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scale (and zero point) per row of `w` (rows, cols): one group per row."""
    if spec.zero_point:
        lo = w.amin(1).clamp(max=0)
        hi = w.amax(1).clamp(min=0)
        scale = ((hi - lo) / spec.qmax).half().float()
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        zero = (-lo / scale).round().clamp(0, spec.qmax)
        return scale, zero
    scale = (w.abs().amax(1) / spec.qmax).half().float()
    return torch.where(scale > 0, scale, torch.ones_like(scale)), None


def to_codes(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor | None, spec: QSpec) -> torch.Tensor:
    """Integer codes (as float) of w (..., k) with per-row scale/zero (...,)."""
    q = (w / scale[..., None]).round()
    if zero is not None:
        q = q + zero[..., None]
    return q.clamp(spec.qmin, spec.qmax)


def from_codes(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor | None) -> torch.Tensor:
    if zero is not None:
        q = q - zero[..., None]
    return q * scale[..., None]


def _grouped(w: torch.Tensor, g: int) -> torch.Tensor:
    """(out, in) -> (out, n_groups, g), zero-padded."""
    out, cols = w.shape
    n_groups = -(-cols // g)
    if n_groups * g != cols:
        w = torch.nn.functional.pad(w, (0, n_groups * g - cols))
    return w.reshape(out, n_groups, g)


def rtn(weight: torch.Tensor, spec: QSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Round-to-nearest: codes (out, in) and scales/zeros (out, n_groups)."""
    w = weight.detach().float()
    g = spec.group_for(w.shape[1])
    wg = _grouped(w, g)
    out, n_groups, _ = wg.shape
    scale, zero = grid(wg.reshape(-1, g), spec)
    scale = scale.reshape(out, n_groups)
    zero = zero.reshape(out, n_groups) if zero is not None else None
    q = to_codes(wg, scale, zero, spec).reshape(out, -1)[:, : w.shape[1]]
    return q, scale, zero


def dequantize_codes(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor | None, in_features: int,
                     g: int) -> torch.Tensor:
    """Codes (out, ≥in) with scale/zero per group of g columns (out, n_groups) -> weight (out, in)."""
    out = scale.shape[0]
    qg = _grouped(q[:, :in_features].float(), g)
    return from_codes(qg, scale.float(), zero.float() if zero is not None else None).reshape(out, -1)[:, :in_features]


# ------------------------------------------------------------------ storage

def pack_int4(u: torch.Tensor) -> torch.Tensor:
    """Unsigned 4-bit codes (rows, cols) -> uint8 (rows, ceil(cols/2)); even column in the low nibble."""
    if u.shape[1] % 2:
        u = torch.nn.functional.pad(u, (0, 1))
    u = u.to(torch.uint8)
    return u[:, 0::2] | (u[:, 1::2] << 4)


def unpack_int4(p: torch.Tensor, cols: int) -> torch.Tensor:
    """uint8 (rows, ceil(cols/2)) -> codes 0..15 as uint8 (rows, cols)."""
    return torch.stack((p & 0x0F, p >> 4), dim=-1).reshape(p.shape[0], -1)[:, :cols]


def encode(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor | None, spec: QSpec) -> dict[str, torch.Tensor]:
    """The tensors a quantized layer stores: qweight (int8, or packed uint8 for int4), fp16
    scales, uint8 zero points."""
    if spec.bits == 8:
        qweight = q.to(torch.int8)
    else:
        qweight = pack_int4(q if spec.zero_point else q + 8)  # symmetric codes offset to 0..15
    out = {"qweight": qweight.contiguous(), "scales": scale.half().contiguous()}
    if zero is not None:
        out["zeros"] = zero.to(torch.uint8).contiguous()
    return out


def decode(t: dict[str, torch.Tensor], spec: QSpec, in_features: int) -> torch.Tensor:
    """Float weight (out, in) from stored tensors."""
    if spec.bits == 8:
        q = t["qweight"].float()
    else:
        q = unpack_int4(t["qweight"], in_features).float()
        if not spec.zero_point:
            q = q - 8
    zero = t.get("zeros")
    return dequantize_codes(q, t["scales"], zero, in_features, spec.group_for(in_features))


def stored_bytes(t: dict[str, torch.Tensor]) -> int:
    return sum(v.numel() * v.element_size() for v in t.values())
