"""See how prompts are routed and which model each would get (no model call)."""

from dispatch import Dispatcher, Hop

dispatcher = Dispatcher.from_config(simulate=True)  # the shipped registry

prompts = [
    "Say thanks to the team for the release.",
    "What does the runbook say about the checkout SLO?",
    "What is the average of 182, 190 and 175?",
    "Fix this:\n```python\ndef add(a, b):\n    return a - b\n```",
    "Design a distributed rate limiter step by step: edge cases and trade-offs.",
]
for prompt in prompts:
    choice = dispatcher.plan(Hop(specialist="demo", prompt=prompt))
    d = choice.decision
    print(
        f"{d.capability:>8} / {d.tier:<6} -> {choice.model.id:<36} "
        f"(~${choice.expected_cost_usd:.5f}) {prompt.splitlines()[0][:40]}"
    )
