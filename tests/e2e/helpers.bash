# Shared set-up for the bats tests: the binary under test and a scratch
# folder outside /tmp (editors behave differently under /tmp).
: "${MDECK_TOP:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${MDECK:=$MDECK_TOP/mdeck}"

make_scratch() {
    mkdir -p "$MDECK_TOP/build/e2e-tmp"
    SCRATCH=$(mktemp -d "$MDECK_TOP/build/e2e-tmp/${BATS_TEST_NAME:-t}.XXXXXX")
    export SCRATCH
}

drop_scratch() {
    [ -n "${SCRATCH:-}" ] && chmod -R u+w "$SCRATCH" 2>/dev/null
    [ -n "${SCRATCH:-}" ] && rm -rf "$SCRATCH"
}

# A small deck: a title, a subdeck, four questions, answers in a file.
small_deck() {
    local d=$1
    mkdir -p "$d/answers"
    cat >"$d/index.md" <<'MD'
# Small deck

A deck for tests.

- [What is attention?](https://example.com/attention)
- [Why divide by sqrt(d)? [math]](https://example.com/scale)

## Inference

- What is the KV cache?
- A question without an answer
MD
    cat >"$d/answers/a.md" <<'MD'
# Answers

## What is attention?

A weighted sum of values: $\mathrm{softmax}(QK^\top/\sqrt{d_k})V$.

## Why divide by sqrt(d)?

The dot product of two random vectors has variance $d_k$.

## What is the KV cache?

It keeps the keys and values of earlier tokens:

```python
cache.append((k, v))
```
MD
}
