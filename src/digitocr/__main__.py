from digitocr.cli import main_exit

main_exit()
