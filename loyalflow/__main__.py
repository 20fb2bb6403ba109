from loyalflow.cli.app import main

main()
