"""``python -m autometa`` (also what ``torchrun -m autometa`` runs)."""

from autometa.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
