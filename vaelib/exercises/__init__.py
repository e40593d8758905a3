"""Self-checks for the lessons' exercises: one module per lesson's topic.

Each ``check_*`` function takes the student's answer, prints ``Right: <why>`` or
``Not yet: <hint>`` (one voice: ``feedback.right`` / ``feedback.not_yet``) and returns True or
False. The solutions are not in the package: they live in ``solutions/NN_<topic>.py`` at the top
of the course, one module per lesson, outside what a student imports.
"""
