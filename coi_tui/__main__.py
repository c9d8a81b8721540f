from coi_tui.main import main

raise SystemExit(main())
