"""Data: chest X-ray and fundus phantoms, the NIH-layout data set, the mortality cohort, image loading and batches.

The verbs say where the data comes from:

``render_*``
    one image drawn in memory, with everything known about it (all masks, the anatomy):
    :func:`~util.data.phantoms.render_phantom`, :func:`~util.data.fundus.render_fundus`.
``generate_*``
    the same drawing reduced to what a data set holds (the image and its finding masks), or a whole
    set written out: :func:`~util.data.phantoms.generate_phantom`, :func:`~util.data.fundus.generate_fundus`,
    :func:`~util.data.cohort.generate_cohort`, :func:`~util.data.chestxray.generate_dataset`.
``make_*``
    a set of images in memory: :func:`~util.data.fundus.make_fundus_set`.
``plan_*`` / ``ensure_*``
    which images a data set will hold, and generating it only when it is missing or stale.
``load_*`` / ``read_*``
    from disk (the generated files, or the real NIH and NHANES files under ``MEDXAI_DATA_DIR``).
"""
