"""Hardware behind small interfaces, each with a virtual twin (printers, LED screens, pads)."""
