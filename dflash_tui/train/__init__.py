"""The DFlash draft trainer (`dflash-tui train-draft`) and the scripts that build the demo pair.

Nothing here runs when the app runs: the app only loads the finished pair from dflash_tui/demo.
"""
