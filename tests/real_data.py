"""Where the real data lies (read at run time, never copied into the repository) and the seed's crop box."""

from pathlib import Path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
SCREENS = REAL / "seed-screens"
SEED_RATIOS = "81/1280,220/720,125/1280,236/720"  # the seed's crop of a 1280x720 window
