// placeholder until the rules library lands
