from lit.entry import main

main()
