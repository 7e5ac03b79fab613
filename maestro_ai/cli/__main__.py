from maestro_ai.cli import main

main()
