from sample_service.cli import main

raise SystemExit(main())
