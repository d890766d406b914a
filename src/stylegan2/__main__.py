"""`python -m stylegan2 ...` (what torchrun launches) runs the command-line interface."""

from stylegan2.console import main

main()
