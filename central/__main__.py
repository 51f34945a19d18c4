"""`python -m central ...` is `kiosk-central ...` (handy before the package is installed)."""

from central.cli import main

raise SystemExit(main())
