"""Everything that differs between snapshots, in one place: the mode interface (:mod:`por.modes.base`), its
implementations (:mod:`~por.modes.public`, :mod:`~por.modes.hiding`, :mod:`~por.modes.zk`), the value layouts every mode
works over (:mod:`por.modes.values`: plain balances or margin equity and debt) and the registry by name.
"""
