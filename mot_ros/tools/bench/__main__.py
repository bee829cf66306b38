"""``python -m mot_ros.tools.bench``."""
from .cli import main

raise SystemExit(main())
