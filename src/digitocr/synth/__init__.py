"""Synthetic training images: glyph sources (fonts, banks), rendering, effects and the generator."""
