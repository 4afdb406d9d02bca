// placeholder: the demo script lands with the command line
