"""Self-checks for the lessons' exercises: one module per lesson's topic.

Each ``check_*`` function takes the student's answer, prints whether it is right (with a hint
when it is not) and returns True or False. Solutions live in ``vaelib.exercises.solutions``.
"""
