"""What a check found: violations (the store broke a rule), and notes (things
worth printing that break no rule)."""


class Findings:
    def __init__(self):
        self.violations = []  # [(kind, message)] in the order found
        self.notes = []

    def add(self, kind, message):
        self.violations.append((kind, message))

    def note(self, message):
        self.notes.append(message)

    def kinds(self):
        return [k for k, _ in self.violations]

    def __bool__(self):
        return bool(self.violations)
