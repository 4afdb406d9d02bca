// placeholder until the markers library lands
