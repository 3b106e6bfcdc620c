"""Labelling real crops: the page and its server (app, folder) and other tools' label files (formats)."""
