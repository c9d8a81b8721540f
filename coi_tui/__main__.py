from coi_tui.cli import main

raise SystemExit(main())
