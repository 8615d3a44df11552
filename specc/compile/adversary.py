"""A generator and the discriminator its recipe names (`adversary = gan(discriminator=NET)`,
specc/recipes/adversarial.py). The discriminator must take what the generator makes: its
input, per sample, is the generator's output at the generator's stated sizes (its recipe's
`size`, `--set`), the discriminator's own symbolic sizes bound from it and checked against
its `assert`s; and it says one probability per sample. Checked when the generator is
compiled (`specc check` reports a mismatch at the recipe's line, naming both networks), and
used by the trainer for the shapes it draws noise and samples at."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.diagnostics import SpeccError
from ..ir.graph import Graph
from ..ir.sym import Sym
from .sizes import stated_sizes


@dataclass(frozen=True)
class Pairing:
    noise: tuple  # the generator's input per sample, at its stated sizes: (nz, 1, 1)
    sample: tuple  # the generator's output per sample = the discriminator's input: (3, 64, 64)
    sizes: dict  # the discriminator's symbolic sizes, bound from `sample`


class Mismatch(ValueError):
    """Why the two networks do not pair; the caller places it."""


def discriminator_name(graph: Graph) -> str | None:
    """The discriminator a generator's recipe names, or None (no adversary)."""
    game = graph.recipe.get("adversary")
    return game["discriminator"] if game else None


def pair(gen: Graph, disc: Graph) -> Pairing:
    """The shapes of one adversarial run; raises Mismatch with the reason."""
    g_in, g_out = _first_input(gen), _first_output(gen)
    d_in, d_out = _first_input(disc), _first_output(disc)
    if len(gen.inputs) != 1 or len(disc.inputs) != 1:
        raise Mismatch("a generator takes one input (its noise) and a discriminator one (a "
                       f"sample); '{gen.name}' has {len(gen.inputs)}, '{disc.name}' "
                       f"{len(disc.inputs)}")
    sizes = stated_sizes(gen)
    noise = _concrete(g_in.type.shape[1:], sizes, f"generator '{gen.name}' input "
                      f"'{gen.inputs[0]}'")
    sample = _concrete(g_out.type.shape[1:], sizes, f"generator '{gen.name}' output "
                       f"'{_output_name(gen)}'")
    both = (f"generator '{gen.name}' output '{_output_name(gen)}' is {_text(g_out.type.dtype, sample)}"
            f" but discriminator '{disc.name}' input '{disc.inputs[0]}' is {d_in.type}")
    want = d_in.type.shape[1:]
    if g_out.type.dtype != d_in.type.dtype or len(want) != len(sample):
        raise Mismatch(both)
    bound = _bind(want, sample, both)
    for got, dim in zip(sample, want):
        if (dim.evaluate(bound) if isinstance(dim, Sym) else dim) != got:
            raise Mismatch(both)
    for a in disc.assumptions:
        if not a.cond.holds({**{s: 1 for s in disc.facts().batch}, **bound}):
            raise Mismatch(f"{both}: at {_sizes_text(bound)} it breaks the assumption "
                           f"{a.cond} of discriminator '{disc.name}'"
                           + (f" ({a.message})" if a.message else ""))
    scores = _concrete(d_out.type.shape[1:], bound, f"discriminator '{disc.name}' output")
    if _count(scores) != 1:
        raise Mismatch(f"discriminator '{disc.name}' output '{_output_name(disc)}' is "
                       f"{_text(d_out.type.dtype, scores)} for the samples of generator "
                       f"'{gen.name}': a discriminator says one probability per sample")
    return Pairing(noise, sample, bound)


def check_pairing(ref, graph: Graph, compile_ref) -> None:
    """At the generator's compile: the named discriminator exists and pairs with it.
    `compile_ref(ref)` compiles the discriminator (without checking its own adversary)."""
    name = discriminator_name(graph)
    if name is None:
        return
    span = graph.recipe_spans.get("adversary")
    disc_ref = ref.module.names.get(name)
    if getattr(disc_ref, "defn", None) is None:
        raise SpeccError(f"recipe 'adversary': no network '{name}' in this file", span)
    if disc_ref.defn is ref.defn and disc_ref.bound == ref.bound:
        raise SpeccError(f"recipe 'adversary': network '{name}' cannot be its own "
                         "discriminator", span)
    disc = compile_ref(disc_ref)
    try:
        pair(graph, disc)
    except Mismatch as e:
        raise SpeccError(str(e), span, (f"discriminator '{disc.name}' is defined at "
                                        f"{_where(disc)}",)) from None


def _first_input(g: Graph):
    return g.values[g.inputs[0]]


def _output_name(g: Graph) -> str:
    return next(iter(g.outputs))


def _first_output(g: Graph):
    return g.values[next(iter(g.outputs.values()))]


def _concrete(dims, sizes: dict, what: str) -> tuple:
    out = []
    for d in dims:
        if isinstance(d, Sym):
            if not d.names() <= set(sizes):
                open_ = ", ".join(sorted(d.names() - set(sizes)))
                raise Mismatch(f"{what} has the open size {open_}: state it in the recipe "
                               f"(size = ...) so that the two networks meet at one shape")
            d = d.evaluate(sizes)
        out.append(d)
    return tuple(out)


def _bind(want, sample: tuple, both: str) -> dict:
    """The discriminator's single-name symbolic dims, bound to the sample's sizes."""
    bound: dict = {}
    for dim, got in zip(want, sample):
        if isinstance(dim, Sym) and dim.is_name():
            name = next(iter(dim.names()))
            if bound.setdefault(name, got) != got:
                raise Mismatch(both)
    for dim in want:
        if isinstance(dim, Sym) and not dim.names() <= set(bound):
            raise Mismatch(both)
    return bound


def _count(dims: tuple) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _text(dtype: str, per_sample: tuple) -> str:
    return f"{dtype}[N, {', '.join(str(d) for d in per_sample)}]"


def _sizes_text(sizes: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) or "its fixed size"


def _where(g: Graph) -> str:
    if g.span is None:
        return "?"
    path = g.span.source.path.replace("\\", "/").rsplit("/", 1)[-1]
    return f"{path}:{g.span.line}"
