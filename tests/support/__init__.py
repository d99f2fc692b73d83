"""What the tests share: stand-ins, scenarios and helpers, imported instead of one test
module importing another."""
