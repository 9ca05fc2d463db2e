#!/usr/bin/python3
"""Python reference for bench/train_bench.sh: the same default GPT ("tiny": 4 layers, width 128,
4 heads, context 128, vocab 260), the same training step (forward, backward, optimizer) and the
same hybrid optimizer (Muon moonlight + Nesterov on hidden matrices / adapters, AdamW on
embedding and head), written as a short script on Debian's python3-torch.
Prints one JSON object per case, prefixed "BENCH ".

  /usr/bin/python3 bench/train_reference.py [--steps 20] [--warmup 3] [--batch 16] [--threads 1]
      [--cases full-adam,full-muon,full-muon-f32,lora-adam,lora-muon,lora-muon-f32]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from blas_core import openblas_core

V, T, L, H, D = 260, 128, 4, 4, 128
EPS, SOFTCAP = 1e-6, 15.0


def rms_norm(x):
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + EPS)


class Linear(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(o, i).uniform_(-(3 / i) ** 0.5, (3 / i) ** 0.5))
        self.lora_A = self.lora_B = None

    def add_lora(self, r=8, alpha=16.0):
        o, i = self.weight.shape
        self.lora_A = nn.Parameter(torch.empty(r, i).uniform_(-1 / i ** 0.5, 1 / i ** 0.5))
        self.lora_B = nn.Parameter(torch.zeros(o, r))
        self.scale = alpha / r
        self.weight.requires_grad_(False)

    def forward(self, x):
        y = F.linear(x, self.weight)
        if self.lora_A is not None:
            y = y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale
        return y


def rotary(x, cos, sin):
    d = x.shape[3] // 2
    x1, x2 = x[..., :d], x[..., d:]
    return torch.cat([x1 * cos + x2 * sin, x2 * cos - x1 * sin], 3)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_q, self.c_k, self.c_v, self.c_proj = (Linear(D, D) for _ in range(4))
        self.c_fc, self.m_proj = Linear(D, 4 * D), Linear(4 * D, D)
        with torch.no_grad():
            self.c_proj.weight.zero_()
            self.m_proj.weight.zero_()

    def forward(self, x, cos, sin):
        B, T_, C = x.shape
        h = rms_norm(x)
        q = self.c_q(h).view(B, T_, H, C // H)
        k = self.c_k(h).view(B, T_, H, C // H)
        v = self.c_v(h).view(B, T_, H, C // H)
        q = rms_norm(rotary(q, cos, sin)).transpose(1, 2)
        k = rms_norm(rotary(k, cos, sin)).transpose(1, 2)
        v = v.transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        mask = torch.ones(T_, T_, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T_, C)
        x = x + self.c_proj(y)
        return x + self.m_proj(F.relu(self.c_fc(rms_norm(x))).square())


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, D)
        nn.init.normal_(self.wte.weight, 0, 1)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.lm_head = Linear(D, V)
        nn.init.normal_(self.lm_head.weight, 0, 0.001)
        hd = D // H
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        f = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        self.cos = f.cos().float()[None, :, None, :]
        self.sin = f.sin().float()[None, :, None, :]

    def forward(self, idx, targets):
        x = rms_norm(self.wte(idx))
        for b in self.h:
            x = b(x, self.cos, self.sin)
        logits = self.lm_head(rms_norm(x))
        logits = SOFTCAP * torch.tanh(logits / SOFTCAP)
        return F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)


def newton_schulz(G, bf16):
    X = G.bfloat16() if bf16 else G.float()
    tall = X.size(0) > X.size(1)
    if tall:
        X = X.T
    X = X / (X.norm() + 1e-7)
    for _ in range(5):
        A = X @ X.T
        B = -4.7750 * A + 2.0315 * (A @ A)
        X = 3.4445 * X + B @ X
    if tall:
        X = X.T
    return X.float()


class Muon(torch.optim.Optimizer):
    """Moonlight Muon with Nesterov momentum, decoupled weight decay."""

    def __init__(self, params, lr=0.02, momentum=0.95, weight_decay=0.0, bf16=True):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      bf16=bf16))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "m" not in st:
                    st["m"] = torch.zeros_like(p)
                m = st["m"]
                m.mul_(g["momentum"]).add_(p.grad)
                u = p.grad.add(m, alpha=g["momentum"])
                o = newton_schulz(u, g["bf16"])
                if g["weight_decay"]:
                    p.mul_(1 - g["lr"] * g["weight_decay"])
                p.add_(o, alpha=-g["lr"] * 0.2 * math.sqrt(max(p.size(0), p.size(1))))


def make(case):
    mode, opt = case.split("-", 1)
    bf16 = not opt.endswith("-f32")
    opt = opt.replace("-f32", "")
    torch.manual_seed(0)
    model = GPT()
    if mode == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for b in model.h:
            for lin in (b.c_q, b.c_k, b.c_v, b.c_proj, b.c_fc, b.m_proj):
                lin.add_lora()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    factor = (D / 768) ** -0.5
    emb = [p for n, p in named if n.startswith("wte")]
    head = [p for n, p in named if n.startswith("lm_head")]
    mats = [p for n, p in named if not n.startswith(("wte", "lm_head"))]
    opts = []
    aux = []
    if emb:
        aux.append(dict(params=emb, lr=0.2 * factor))
    if head:
        aux.append(dict(params=head, lr=0.004 * factor))
    if opt == "adam":
        groups = [dict(params=mats, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)]
        groups += [dict(g, betas=(0.8, 0.95), eps=1e-10) for g in aux]
        opts.append(torch.optim.AdamW(groups, weight_decay=0.0))
    else:
        opts.append(Muon(mats, lr=0.02, bf16=bf16))
        if aux:
            opts.append(torch.optim.AdamW(aux, betas=(0.8, 0.95), eps=1e-10, weight_decay=0.0))
    return model, opts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases",
                    default="full-adam,full-muon,full-muon-f32,lora-adam,lora-muon,lora-muon-f32")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for case in a.cases.split(","):
        model, opts = make(case)
        x = torch.randint(0, V, (a.batch, T))
        y = torch.randint(0, V, (a.batch, T))
        opt_time = 0.0

        def step(timed):
            nonlocal opt_time
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss = model(x, y)
            loss.backward()
            t0 = time.process_time()
            for o in opts:
                o.step()
            if timed:
                opt_time += time.process_time() - t0
            return loss.item()

        for _ in range(a.warmup):
            step(False)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            loss = step(True)
        secs = time.perf_counter() - t0
        cpu = time.process_time() - c0
        print("BENCH " + json.dumps(dict(
            impl="python", case=case, threads=torch.get_num_threads(), batch=a.batch, seq=T,
            steps=a.steps, step_ms=1e3 * secs / a.steps, optimizer_cpu_ms=1e3 * opt_time / a.steps,
            tokens_per_s=a.steps * a.batch * T / secs, cpu_step_ms=1e3 * cpu / a.steps,
            cpu_tokens_per_s=a.steps * a.batch * T / cpu, loss=loss,
            openblas_core=openblas_core())), flush=True)


if __name__ == "__main__":
    main()
