"""The font families of the general model: about 150 installed `fontpkg-*` families to train on, chosen
across sans, condensed, rounded, monospace, serif and display faces (pixel, segment and dot-matrix shapes
come from synth/procedural.py), and a disjoint set kept for zero-shot evaluation, never trained on.

`-ft general` and `-ft evaluation` name them; they install with `pip install digitocr[fonts]`.
"""

from __future__ import annotations

from collections.abc import Collection

from digitocr.errors import UserError

GENERAL_FAMILIES = (
    # sans
    "abeezee", "abel", "albert-sans", "alegreya-sans", "archivo", "arimo", "asap", "assistant",
    "atkinson-hyperlegible", "barlow", "be-vietnam-pro", "cabin", "catamaran", "chivo", "dm-sans",
    "encode-sans", "epilogue", "figtree", "fira-sans", "geist", "hanken-grotesk", "heebo", "hind",
    "ibm-plex-sans", "inter", "inter-tight", "instrument-sans", "jost", "karla", "league-spartan", "lexend",
    "libre-franklin", "manrope", "maven-pro", "montserrat", "mukta", "mulish", "news-cycle", "noto-sans",
    "nunito-sans", "onest", "open-sans", "outfit", "overpass", "oxygen", "plus-jakarta-sans", "poppins",
    "prompt", "pt-sans", "public-sans", "questrial", "raleway", "red-hat-display", "red-hat-text",
    "rethink-sans", "roboto", "roboto-flex", "rubik", "sarabun", "schibsted-grotesk", "signika",
    "sofia-sans", "source-sans-3", "space-grotesk", "urbanist", "work-sans", "josefin-sans", "exo", "exo-2",
    "syne", "unbounded", "geologica", "bricolage-grotesque", "merriweather-sans", "noto-sans-display",
    # condensed
    "archivo-narrow", "barlow-condensed", "barlow-semi-condensed", "fira-sans-condensed",
    "ibm-plex-sans-condensed", "oswald", "pt-sans-narrow", "roboto-condensed", "saira", "teko",
    "alumni-sans", "smooch-sans", "yanone-kaffeesatz", "anton", "rajdhani",
    # rounded
    "varela-round", "comfortaa", "nunito", "quicksand", "fredoka", "baloo-2",
    # monospace
    "roboto-mono", "jetbrains-mono", "space-mono", "dm-mono", "fira-code", "inconsolata", "source-code-pro",
    # serif
    "pt-serif", "roboto-slab", "lora", "bitter", "crimson-pro", "eb-garamond", "libre-baskerville",
    "literata", "noto-serif", "source-serif-4", "spectral", "vollkorn", "zilla-slab", "arvo", "domine",
    "ibm-plex-serif", "playfair-display", "newsreader", "fraunces", "frank-ruhl-libre", "cardo",
    "andada-pro", "antic-slab", "sanchez",
    # display
    "orbitron", "chakra-petch", "share-tech", "russo-one", "black-ops-one", "press-start-2p", "bungee",
    "luckiest-guy", "titan-one", "lilita-one", "archivo-black", "alfa-slab-one", "abril-fatface",
    "changa-one", "hammersmith-one", "viga", "rowdies", "gravitas-one", "dm-serif-display", "cinzel",
)
# Never trained on by the general recipe: one or two of each kind, for an honest zero-shot evaluation.
EVALUATION_FAMILIES = (
    "play", "titillium-web", "ibm-plex-mono", "bebas-neue", "dosis", "lato", "merriweather", "fjalla-one",
    "righteous", "geist-mono", "saira-condensed", "kanit", "sora",
)
FONT_SETS = {"general": GENERAL_FAMILIES, "evaluation": EVALUATION_FAMILIES}
FONTS_EXTRA_HINT = "pip install 'digitocr[fonts]'"


def require_installed(spec: str, installed: Collection[str]) -> tuple[str, ...]:
    """The families of font set `spec`, all of them installed: a partial set would silently change what a
    recipe trains or evaluates on."""
    missing = [family for family in FONT_SETS[spec] if family not in installed]
    if missing:
        raise UserError(f"font set {spec!r} needs {len(missing)} font package(s) that are not installed "
                        f"(fontpkg-{', fontpkg-'.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): "
                        f"{FONTS_EXTRA_HINT}")
    return FONT_SETS[spec]
