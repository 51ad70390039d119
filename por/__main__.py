from por.cli.app import main

main()
