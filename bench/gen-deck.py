#!/usr/bin/env python3
"""gen-deck.py - a synthetic mdeck deck for benchmarks and the large-deck test.

usage: gen-deck.py [--seed S] [--per-file K] [--images N] QUESTIONS DIR

Writes DIR/index.md (a title, "##"/"###" subdecks, one list item per
question, most of them linked to a source URL, some with "[tag]" suffixes
and a few in Chinese), DIR/answers/part-NNNN.md (K "## question" sections
each, in shuffled order) and DIR/images/fig-NN.png (N small real PNG files
that 10% of the answers show).  Answers are 400-800 bytes of markdown:
paragraphs, lists, inline code, $...$ math, sometimes a fenced code block.

Python standard library only.  The output depends on QUESTIONS, the seed,
K and N only: the same arguments give byte-identical files.  DIR must not
exist or be empty (the generator never deletes anything).
"""

import argparse
import os
import random
import struct
import sys
import zlib

WORDS = (
    "attention transformer layer norm gradient softmax embedding token "
    "decoder encoder batch dropout optimizer adam momentum learning rate "
    "warmup schedule loss entropy logits sampling beam search kv cache "
    "quantization pruning distillation lora adapter prompt context window "
    "position rotary alibi flash kernel memory bandwidth throughput latency "
    "tensor parallel pipeline shard checkpoint activation residual mixture "
    "experts router reward model policy ppo dpo rlhf alignment tokenizer "
    "vocabulary bpe perplexity benchmark evaluation retrieval index vector "
    "database chunk rerank hallucination grounding diffusion noise scheduler "
    "unet latent vae clip contrastive temperature convergence overfitting"
).split()

OPENERS = [
    "What is", "Why does", "How does", "When should we use", "What limits",
    "How do you tune", "What breaks in", "Explain", "Compare", "How to debug",
]
TAGS = ["training", "inference", "math", "rag", "systems", "alignment",
        "data", "eval", "面试题", "basics"]
CN_OPENERS = ["为什么", "如何理解", "怎样优化", "什么是", "如何比较"]
CN_WORDS = ["注意力", "梯度", "显存", "推理", "训练", "量化", "蒸馏", "检索",
            "位置编码", "归一化", "采样", "解码", "对齐", "奖励模型"]
MATH = [r"\sqrt{d_k}", r"\mathrm{softmax}(QK^\top)", r"O(n^2)", r"\nabla L",
        r"\alpha = 0.1", r"p(x_t \mid x_{<t})", r"\beta_1, \beta_2",
        r"W \in \mathbb{R}^{d \times d}", r"\log \sum_i e^{z_i}", r"\eta_t"]
CODE = ["torch.no_grad()", "model.eval()", "optimizer.step()", "x.view(-1)",
        "F.softmax(x, dim=-1)", "cache.append(k)", "nn.LayerNorm(d)",
        "loss.backward()", "tokenizer.encode(s)", "grad.clamp_(-1, 1)"]


def png(w, h, rgb):
    """A real (decodable) w x h RGB PNG of one color with a diagonal."""
    rows = []
    for y in range(h):
        row = bytearray(b"\x00")
        for x in range(w):
            row += bytes((255 - c for c in rgb)) if x == y else bytes(rgb)
        rows.append(bytes(row))

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def question(rng, i):
    """(index text, heading text): the heading is the question without its
    tag suffix; the number keeps every question distinct."""
    if rng.random() < 0.15:
        q = "%s%s和%s的关系 %d？" % (rng.choice(CN_OPENERS), rng.choice(CN_WORDS),
                                 rng.choice(CN_WORDS), i)
    else:
        q = "%s %s %d in %s?" % (rng.choice(OPENERS), words(rng, rng.randint(2, 4)), i,
                                words(rng, rng.randint(1, 3)))
    tagged = q + " [%s]" % rng.choice(TAGS) if rng.random() < 0.3 else q
    return tagged, q


def answer(rng, nimages):
    """400-800 bytes of markdown (the image line, when there is one, included)."""
    image = ""
    if nimages and rng.random() < 0.10:
        image = "\n\n![figure](../images/fig-%02d.png)" % rng.randrange(nimages)
    limit = 800 - len(image)
    target = rng.randint(400, limit)
    parts = []
    size = 0
    kind = 0
    while size < target:
        k = kind % 4
        if k == 0:
            p = "%s `%s` %s $%s$ %s." % (words(rng, rng.randint(6, 14)).capitalize(),
                                        rng.choice(CODE), words(rng, rng.randint(4, 10)),
                                        rng.choice(MATH), words(rng, rng.randint(3, 8)))
        elif k == 1:
            items = ["- %s `%s`" % (words(rng, rng.randint(3, 7)), rng.choice(CODE))
                     for _ in range(rng.randint(2, 4))]
            p = "\n".join(items)
        elif k == 2:
            p = "1. %s $%s$\n2. %s\n3. **%s** %s" % (
                words(rng, 5), rng.choice(MATH), words(rng, 6), words(rng, 2), words(rng, 4))
        else:
            if rng.random() < 0.3:
                p = "```python\n%s\n%s\n```" % (rng.choice(CODE), rng.choice(CODE))
            else:
                p = "%s *%s* %s." % (words(rng, 8).capitalize(), words(rng, 2), words(rng, 9))
        parts.append(p)
        size += len(p) + 2
        kind += 1
    text = "\n\n".join(parts)
    if len(text.encode()) > limit:  # cut at a paragraph, else at a word
        cut = text.rfind("\n\n", 0, limit - 60)
        text = text[:cut] if cut >= 400 else text[:limit - 60].rsplit(" ", 1)[0]
    return text + image + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", type=int)
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-file", type=int, default=100)
    ap.add_argument("--images", type=int, default=20)
    a = ap.parse_args()
    if os.path.isdir(a.dir) and os.listdir(a.dir):
        sys.exit("gen-deck.py: %s exists and is not empty" % a.dir)
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.dir, "answers"), exist_ok=True)
    if a.images:
        os.makedirs(os.path.join(a.dir, "images"), exist_ok=True)
        for k in range(a.images):
            rgb = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            with open(os.path.join(a.dir, "images", "fig-%02d.png" % k), "wb") as f:
                f.write(png(24 + k, 16 + k, rgb))

    index = ["# Bench deck %d" % a.questions, "",
             "> A synthetic deck made by bench/gen-deck.py (seed %d)." % a.seed, ""]
    heads = []
    for i in range(1, a.questions + 1):
        if i % 500 == 1:
            index += ["", "## Part %d" % (i // 500 + 1), ""]
        elif i % 100 == 1 and rng.random() < 0.5:
            index += ["", "### Topic %d" % (i // 100), ""]
        tagged, head = question(rng, i)
        if rng.random() < 0.8:
            index.append("- [%s](https://example.com/q/%d)" % (tagged, i))
        else:
            index.append("- %s" % tagged)
        heads.append(head)
    with open(os.path.join(a.dir, "index.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(index) + "\n")

    for start in range(0, len(heads), a.per_file):
        chunk = heads[start:start + a.per_file]
        order = list(range(len(chunk)))
        rng.shuffle(order)
        out = ["# Answers %d-%d" % (start + 1, start + len(chunk)), ""]
        for k in order:
            out += ["## " + chunk[k], "", answer(rng, a.images)]
        path = os.path.join(a.dir, "answers", "part-%04d.md" % (start // a.per_file + 1))
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(out))


if __name__ == "__main__":
    main()
