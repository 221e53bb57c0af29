"""The lectures, one package each: lectures/lNN_topic/ holds the narrated lesson
(lecture.py, also lecture.ipynb), its settings (config.py) and the modules only it uses.

    python -m lectures.l07_convnet --help
    python -m cs20 list
"""
