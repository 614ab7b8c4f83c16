"""The base model in PyTorch, read from Vigil's GGUF file, with LoRA on its matrices.

The forward pass is the one Vigil's engine runs (Sources/MicroLM/Llama/LlamaForward.swift):
token embedding; per block RMSNorm, Q/K/V, "normal" RoPE on adjacent pairs (2i, 2i+1) -- the
GGUF conversion already permuted Q and K for it --, causal grouped-query attention, output
projection, residual; RMSNorm, SwiGLU feed-forward, residual; final RMSNorm and the tied output.
Weights are dequantized to float32 from the GGUF file (Q4_1 / Q8_0) with the `gguf` package.

Also a byte-level BPE tokenizer with the `smollm` pre-tokenizer (llama.cpp's rules, as
Sources/MicroLM/Tokenizer/PreTokenizer.swift implements them), read from the same file.
"""

import math

import numpy as np
import regex
import torch
import torch.nn.functional as F
from gguf import GGUFReader
from gguf.quants import dequantize

# The matrices an adapter may change, by their GGUF name inside a block.
TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def _field(reader, key):
    f = reader.fields[key]
    v = f.parts[f.data[0]]
    if f.types and f.types[0].name == "STRING":
        return bytes(v).decode("utf-8")
    return v.item() if hasattr(v, "item") else v[0]


class Config:
    def __init__(self, reader):
        self.blocks = int(_field(reader, "llama.block_count"))
        self.dim = int(_field(reader, "llama.embedding_length"))
        self.ffn = int(_field(reader, "llama.feed_forward_length"))
        self.heads = int(_field(reader, "llama.attention.head_count"))
        self.kv_heads = int(_field(reader, "llama.attention.head_count_kv"))
        self.rope_base = float(_field(reader, "llama.rope.freq_base"))
        self.eps = float(_field(reader, "llama.attention.layer_norm_rms_epsilon"))
        self.head_dim = self.dim // self.heads
        self.arch = _field(reader, "general.architecture")


class LoRALinear(torch.nn.Module):
    """y = x Wᵀ + scale · (x Aᵀ) Bᵀ with W frozen; A [rank, in] and B [out, rank] as llama.cpp's
    lora_a ([in, rank] in GGUF order) and lora_b ([rank, out])."""

    def __init__(self, weight, rank, alpha, generator):
        super().__init__()
        self.register_buffer("weight", weight, persistent=False)
        out_features, in_features = weight.shape
        self.rank = rank
        self.scale = alpha / rank if rank else 0.0
        if rank:
            a = torch.empty(rank, in_features)
            bound = 1 / math.sqrt(in_features)
            a.uniform_(-bound, bound, generator=generator)
            self.a = torch.nn.Parameter(a)
            self.b = torch.nn.Parameter(torch.zeros(out_features, rank))

    def forward(self, x):
        y = x @ self.weight.t()
        if self.rank:
            y = y + ((x @ self.a.t()) @ self.b.t()) * self.scale
        return y


class Llama(torch.nn.Module):
    def __init__(self, path, rank=8, alpha=16.0, targets=TARGETS, seed=0, first_layer=0):
        super().__init__()
        reader = GGUFReader(path)
        self.config = c = Config(reader)
        tensors = {t.name: t for t in reader.tensors}

        def weight(name):
            t = tensors[name]
            return torch.from_numpy(np.array(dequantize(t.data, t.tensor_type), dtype=np.float32))

        g = torch.Generator().manual_seed(seed)
        self.rank, self.alpha, self.targets = rank, alpha, tuple(targets)
        self.first_layer = first_layer
        self.embedding = weight("token_embd.weight")  # [vocab, dim]
        self.output = weight("output.weight") if "output.weight" in tensors else self.embedding
        self.output_norm = weight("output_norm.weight")
        self.norms = []
        self.layers = torch.nn.ModuleList()
        for i in range(c.blocks):
            p = f"blk.{i}."
            layer = torch.nn.ModuleDict({
                m: LoRALinear(weight(p + m + ".weight"), rank if m in self.targets and i >= first_layer else 0, alpha, g)
                for m in TARGETS
            })
            self.layers.append(layer)
            self.norms.append((weight(p + "attn_norm.weight"), weight(p + "ffn_norm.weight")))
        half = c.head_dim // 2
        self.inv_freq = c.rope_base ** (-2.0 * torch.arange(half, dtype=torch.float64) / c.head_dim)
        for prm in self.parameters():
            prm.requires_grad_(True)

    def lora_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def _rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.config.eps) * w

    def _rope(self, x, cos, sin):
        # x: [batch, seq, heads, head_dim]; rotate adjacent pairs.
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
        return out.flatten(-2)

    def forward(self, ids):
        """ids: [batch, seq] -> logits [batch, seq, vocab]."""
        return self.logits(self.hidden(ids))

    def logits(self, hidden):
        return self._rms(hidden, self.output_norm) @ self.output.t()

    def hidden(self, ids):
        """ids: [batch, seq] -> the residual stream after the last block. Blocks without LoRA
        below the first adapted one run without gradients (nothing to learn there)."""
        c = self.config
        bsz, n = ids.shape
        x = self.embedding[ids]
        angles = torch.arange(n, dtype=torch.float64)[:, None] * self.inv_freq[None, :]
        cos = torch.cos(angles).float()[None, :, None, :]
        sin = torch.sin(angles).float()[None, :, None, :]
        for i, (layer, (attn_norm, ffn_norm)) in enumerate(zip(self.layers, self.norms)):
            with torch.set_grad_enabled(torch.is_grad_enabled() and i >= self.first_layer):
                x = self._block(layer, attn_norm, ffn_norm, x, cos, sin, bsz, n)
        return x

    def hidden_shared(self, prefix, rest):
        """The residual stream of `rest` [batch, n] after the last block, every row continuing the
        same `prefix` [p] (a shared system prompt): the prefix is computed once for the batch,
        its keys and values shared, which is the same arithmetic as `hidden(prefix + row)` per row."""
        c = self.config
        p, (bsz, n) = len(prefix), rest.shape
        xp = self.embedding[prefix][None]
        xr = self.embedding[rest]
        angles = torch.arange(p + n, dtype=torch.float64)[:, None] * self.inv_freq[None, :]
        cos = torch.cos(angles).float()[None, :, None, :]
        sin = torch.sin(angles).float()[None, :, None, :]
        # rest position i sees every prefix position and rest positions <= i
        mask = torch.cat((torch.ones(n, p, dtype=torch.bool), torch.ones(n, n, dtype=torch.bool).tril()), dim=1)
        group = c.heads // c.kv_heads
        for i, (layer, (attn_norm, ffn_norm)) in enumerate(zip(self.layers, self.norms)):
            with torch.set_grad_enabled(torch.is_grad_enabled() and i >= self.first_layer):
                hp, hr = self._rms(xp, attn_norm), self._rms(xr, attn_norm)

                def qkv(h, m, heads, lo, hi):
                    return self._rope(layer[m](h).view(h.shape[0], h.shape[1], heads, c.head_dim),
                                      cos[:, lo:hi], sin[:, lo:hi]).transpose(1, 2)
                qp, kp = qkv(hp, "attn_q", c.heads, 0, p), qkv(hp, "attn_k", c.kv_heads, 0, p)
                qr, kr = qkv(hr, "attn_q", c.heads, p, p + n), qkv(hr, "attn_k", c.kv_heads, p, p + n)
                vp = layer["attn_v"](hp).view(1, p, c.kv_heads, c.head_dim).transpose(1, 2)
                vr = layer["attn_v"](hr).view(bsz, n, c.kv_heads, c.head_dim).transpose(1, 2)
                kp, vp, kr, vr = (t.repeat_interleave(group, dim=1) for t in (kp, vp, kr, vr))
                ap = F.scaled_dot_product_attention(qp, kp, vp, is_causal=True)
                k = torch.cat((kp.expand(bsz, -1, -1, -1), kr), dim=2)
                v = torch.cat((vp.expand(bsz, -1, -1, -1), vr), dim=2)
                ar = F.scaled_dot_product_attention(qr, k, v, attn_mask=mask)
                xp = xp + layer["attn_output"](ap.transpose(1, 2).reshape(1, p, c.dim))
                xr = xr + layer["attn_output"](ar.transpose(1, 2).reshape(bsz, n, c.dim))
                if i < len(self.layers) - 1:  # the prefix's last feed-forward feeds no one
                    h = self._rms(xp, ffn_norm)
                    xp = xp + layer["ffn_down"](F.silu(layer["ffn_gate"](h)) * layer["ffn_up"](h))
                h = self._rms(xr, ffn_norm)
                xr = xr + layer["ffn_down"](F.silu(layer["ffn_gate"](h)) * layer["ffn_up"](h))
        return xr

    def _block(self, layer, attn_norm, ffn_norm, x, cos, sin, bsz, n):
        c = self.config
        group = c.heads // c.kv_heads
        h = self._rms(x, attn_norm)
        q = layer["attn_q"](h).view(bsz, n, c.heads, c.head_dim)
        k = layer["attn_k"](h).view(bsz, n, c.kv_heads, c.head_dim)
        v = layer["attn_v"](h).view(bsz, n, c.kv_heads, c.head_dim)
        q, k = self._rope(q, cos, sin), self._rope(k, cos, sin)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + layer["attn_output"](a.transpose(1, 2).reshape(bsz, n, c.dim))
        h = self._rms(x, ffn_norm)
        x = x + layer["ffn_down"](F.silu(layer["ffn_gate"](h)) * layer["ffn_up"](h))
        return x

    @torch.no_grad()
    def greedy(self, ids, max_tokens, stop_id=None):
        """Greedy continuation of `ids` with a key/value cache, as the engine decodes."""
        c = self.config
        group = c.heads // c.kv_heads
        cache = [None] * c.blocks
        out, pos, step = [], 0, list(ids)
        for _ in range(max_tokens + 1):
            n = len(step)
            x = self.embedding[torch.tensor(step)][None]
            angles = torch.arange(pos, pos + n, dtype=torch.float64)[:, None] * self.inv_freq[None, :]
            cos = torch.cos(angles).float()[None, :, None, :]
            sin = torch.sin(angles).float()[None, :, None, :]
            for i, (layer, (attn_norm, ffn_norm)) in enumerate(zip(self.layers, self.norms)):
                h = self._rms(x, attn_norm)
                q = self._rope(layer["attn_q"](h).view(1, n, c.heads, c.head_dim), cos, sin).transpose(1, 2)
                k = self._rope(layer["attn_k"](h).view(1, n, c.kv_heads, c.head_dim), cos, sin).transpose(1, 2)
                v = layer["attn_v"](h).view(1, n, c.kv_heads, c.head_dim).transpose(1, 2)
                if cache[i] is not None:
                    k, v = torch.cat((cache[i][0], k), dim=2), torch.cat((cache[i][1], v), dim=2)
                cache[i] = (k, v)
                kk, vv = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
                mask = torch.ones(n, pos + n, dtype=torch.bool).tril(diagonal=pos)
                a = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
                x = x + layer["attn_output"](a.transpose(1, 2).reshape(1, n, c.dim))
                h = self._rms(x, ffn_norm)
                x = x + layer["ffn_down"](F.silu(layer["ffn_gate"](h)) * layer["ffn_up"](h))
            t = int(torch.argmax(self.logits(x[0, -1])))
            pos += n
            if t == stop_id or len(out) == max_tokens:
                break
            out.append(t)
            step = [t]
        return out

    def adapter_tensors(self):
        """(name, array) pairs for the GGUF adapter: lora_a as [rank, in] (GGUF [in, rank]) and
        lora_b as [out, rank] (GGUF [rank, out])."""
        for i, layer in enumerate(self.layers):
            for m in TARGETS:
                mod = layer[m]
                if mod.rank:
                    base = f"blk.{i}.{m}.weight"
                    yield base + ".lora_a", mod.a.detach().numpy()
                    yield base + ".lora_b", mod.b.detach().numpy()

    def load_adapter(self, path):
        """Puts the A/B of a GGUF adapter file into the LoRA modules (to check a written file)."""
        reader = GGUFReader(path)
        for t in reader.tensors:
            base, half = t.name.rsplit(".", 1)
            _, i, m, _ = base.split(".")
            arr = torch.from_numpy(np.array(dequantize(t.data, t.tensor_type), dtype=np.float32))
            mod = self.layers[int(i)][m]
            with torch.no_grad():
                if half == "lora_a":
                    mod.a.copy_(arr)
                else:
                    mod.b.copy_(arr)
        alpha = float(_field(reader, "adapter.lora.alpha"))
        for layer in self.layers:
            for m in TARGETS:
                if layer[m].rank:
                    layer[m].scale = alpha / layer[m].rank


class Tokenizer:
    """Byte-level BPE with the `smollm` pre-tokenizer: every digit alone, then GPT-2's rules."""

    GPT2 = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, path):
        reader = GGUFReader(path)
        f = reader.fields["tokenizer.ggml.tokens"]
        self.tokens = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        f = reader.fields["tokenizer.ggml.merges"]
        merges = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        types = reader.fields["tokenizer.ggml.token_type"]
        self.specials = [t for t, ty in zip(self.tokens, (int(types.parts[i][0]) for i in types.data)) if ty in (3, 4)]
        self.special_re = regex.compile("|".join(regex.escape(s) for s in sorted(self.specials, key=len, reverse=True)))
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
        cs, n = bs[:], 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        self.byte_char = {b: chr(c) for b, c in zip(bs, cs)}
        self.char_byte = {v: k for k, v in self.byte_char.items()}
        self.im_start, self.im_end = self.ids["<|im_start|>"], self.ids["<|im_end|>"]
        self.cache = {}

    def _bpe(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        word = [self.byte_char[b] for b in piece.encode("utf-8")]
        while len(word) > 1:
            best = min(range(len(word) - 1), key=lambda i: self.ranks.get((word[i], word[i + 1]), 1 << 30))
            if (word[best], word[best + 1]) not in self.ranks:
                break
            word = word[:best] + [word[best] + word[best + 1]] + word[best + 2:]
        ids = [self.ids[w] for w in word]
        self.cache[piece] = ids
        return ids

    def _plain(self, text):
        out = []
        # smollm: each \p{N} alone, the runs between them split by the gpt2 rules
        for part in regex.split(r"(\p{N})", text):
            if not part:
                continue
            for m in self.GPT2.finditer(part):
                out.extend(self._bpe(m.group(0)))
        return out

    def encode(self, text, special=True):
        if not special:
            return self._plain(text)
        out, pos = [], 0
        for m in self.special_re.finditer(text):
            out.extend(self._plain(text[pos:m.start()]))
            out.append(self.ids[m.group(0)])
            pos = m.end()
        out.extend(self._plain(text[pos:]))
        return out

    def decode(self, ids):
        data = bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in self.specials:
                data.extend(t.encode())
            else:
                data.extend(self.char_byte[ch] for ch in t)
        return data.decode("utf-8", errors="replace")


def chat_prefix(system, user):
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
