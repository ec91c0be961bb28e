"""Fixed reference tables for the synthetic data generator (:mod:`service.sample`).

Everything the generator draws from lives here as plain data, so the tables can
be read and reviewed without the sampling machinery: person names by culture
(accented spellings included, never downloaded), the countries each culture
reports from, a company product catalog with verbatim spellings, common
concomitant medicines, ~70 common MedDRA Preferred Terms with their real
8-digit codes, reporter organizations, partner senders and study designs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Culture:
    """Names and reporting countries of one naming tradition."""

    name: str
    countries: tuple[str, ...]
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]
    localization: str = "global"


CULTURES: tuple[Culture, ...] = (
    Culture(
        "english",
        ("US", "US", "US", "GB", "CA", "AU", "IE"),
        ("Mary", "Jennifer", "Linda", "Emily", "Sarah", "Jessica", "Karen", "Olivia", "Megan"),
        ("Jacob", "James", "Michael", "Robert", "David", "William", "Thomas", "Daniel", "Ryan"),
        (
            "Smith",
            "Johnson",
            "Williams",
            "Brown",
            "Jones",
            "Miller",
            "Wilson",
            "Taylor",
            "O'Neil",
            "McDonald",
            "Anderson",
            "Clarke",
            "Fitzgerald",
            "Harrington",
        ),
    ),
    Culture(
        "spanish",
        ("ES", "MX", "AR", "CO", "CL", "PE"),
        ("María", "Lucía", "Sofía", "Carmen", "Inés", "Ana", "Begoña", "Pilar"),
        ("José", "Jesús", "Álvaro", "Andrés", "Raúl", "Íñigo", "Carlos", "Joaquín"),
        (
            "García",
            "Fernández",
            "González",
            "Rodríguez",
            "López",
            "Martínez",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Núñez",
            "Ibáñez",
            "Muñoz",
        ),
    ),
    Culture(
        "french",
        ("FR", "FR", "BE", "CH", "CA"),
        ("Chloé", "Léa", "Hélène", "Amélie", "Élodie", "Françoise", "Céline", "Noémie"),
        ("Jean-Pierre", "François", "Jérôme", "Théo", "Loïc", "Hervé", "Benoît", "Gaël"),
        (
            "Lefèvre",
            "Girard",
            "Dupont",
            "Lambert",
            "Bélanger",
            "Côté",
            "Gagné",
            "Moreau",
            "Roussel",
            "Duval",
            "Chevalier",
            "Mercier",
        ),
    ),
    Culture(
        "german",
        ("DE", "DE", "AT", "CH"),
        ("Jürgen", "Sabine", "Jörg", "Käthe", "Ursula", "Brigitte", "Anja", "Lena"),
        ("Jürgen", "Jörg", "Günter", "Stefan", "Matthias", "Lukas", "Björn", "Uwe"),
        (
            "Müller",
            "Schröder",
            "Schäfer",
            "Größer",
            "Köhler",
            "Weiß",
            "Krüger",
            "Hoffmann",
            "Becker",
            "Wagner",
            "Vogel",
            "Schmidt",
        ),
    ),
    Culture(
        "nordic",
        ("DK", "SE", "NO", "FI", "IS"),
        ("Åsa", "Sigrún", "Ingrid", "Maja", "Linnéa", "Sørine", "Aino", "Astrid"),
        ("Søren", "Jørgen", "Björn", "Håkan", "Ólafur", "Mikael", "Pekka", "Lars"),
        (
            "Kierkegård",
            "Johansson",
            "Jørgensen",
            "Sørensen",
            "Ström",
            "Åberg",
            "Nieminen",
            "Virtanen",
            "Guðmundsson",
            "Lindqvist",
        ),
    ),
    Culture(
        "polish",
        ("PL", "PL", "CZ"),
        ("Małgorzata", "Agnieszka", "Zofia", "Katarzyna", "Dagmar", "Jiřina"),
        ("Łukasz", "Wojciech", "Paweł", "Tomasz", "Jiří", "Grzegorz"),
        (
            "Wałęsa",
            "Kowalski",
            "Nowak",
            "Wiśniewski",
            "Wójcik",
            "Dvořák",
            "Novák",
            "Krawczyk",
            "Zieliński",
        ),
    ),
    Culture(
        "turkish",
        ("TR",),
        ("Ayşe", "Gül", "Şule", "Özlem", "Çiğdem", "Elif"),
        ("Çağlar", "Mehmet", "Oğuz", "Emre", "Barış", "İsmail"),
        ("Öztürk", "Yılmaz", "Kaya", "Çelik", "Şahin", "Doğan", "Aydın", "Güneş"),
    ),
    Culture(
        "vietnamese",
        ("VN",),
        ("Hương", "Lan", "Thảo", "Mai", "Ngọc"),
        ("Minh", "Dũng", "Tuấn", "Hùng", "Quang"),
        ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ"),
        "vi",
    ),
    Culture(
        "chinese",
        ("CN", "TW", "SG"),
        ("Xiaoling", "Mei", "Jing", "Yan", "Xiu"),
        ("Wei", "Jun", "Hao", "Zhiwei", "Qiang"),
        ("Wang", "Li", "Zhang", "Liu", "Chen", "Huang", "Zhao", "Lü"),
    ),
    Culture(
        "japanese",
        ("JP",),
        ("Yūko", "Haruka", "Aiko", "Megumi", "Sakura"),
        ("Takeshi", "Kenji", "Hiroshi", "Yūta", "Ryō"),
        ("Satō", "Suzuki", "Takahashi", "Tanaka", "Itō", "Watanabe", "Yamamoto", "Katō"),
        "ja",
    ),
    Culture(
        "indian",
        ("IN", "IN", "GB"),
        ("Priya", "Ananya", "Lakshmi", "Deepika", "Kavya"),
        ("Rahul", "Arjun", "Vikram", "Sanjay", "Rajesh"),
        ("Sharma", "Patel", "Reddy", "Iyer", "Gupta", "Nair", "Singh", "Chatterjee"),
    ),
    Culture(
        "arabic",
        ("EG", "SA", "AE", "MA", "JO"),
        ("Fatima", "Aisha", "Layla", "Noor", "Yasmin"),
        ("Mohammed", "Ahmed", "Omar", "Youssef", "Khaled"),
        ("Al-Sayed", "El-Masry", "Haddad", "Khoury", "Ben Ali", "Al-Farsi", "Nasser"),
    ),
    Culture(
        "russian",
        ("RU", "UA", "KZ"),
        ("Natalya", "Olga", "Tatyana", "Yelena", "Irina"),
        ("Dmitriy", "Sergey", "Aleksandr", "Nikolay", "Andrey"),
        ("Ivanov", "Smirnov", "Kuznetsov", "Popov", "Sokolov", "Volkov"),
    ),
)

#: Cyrillic spellings of the romanized Russian names, for transliterated-name queries.
CYRILLIC: dict[str, str] = {
    "Natalya": "Наталья",
    "Olga": "Ольга",
    "Tatyana": "Татьяна",
    "Yelena": "Елена",
    "Irina": "Ирина",
    "Dmitriy": "Дмитрий",
    "Sergey": "Сергей",
    "Aleksandr": "Александр",
    "Nikolay": "Николай",
    "Andrey": "Андрей",
    "Ivanov": "Иванов",
    "Smirnov": "Смирнов",
    "Kuznetsov": "Кузнецов",
    "Popov": "Попов",
    "Sokolov": "Соколов",
    "Volkov": "Волков",
}

#: German transliteration of umlauts and sharp s (``Müller`` -> ``Mueller``).
GERMAN_TRANSLIT: dict[str, str] = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
    "ß": "ss",
}


@dataclass(frozen=True, slots=True)
class CatalogProduct:
    """A company product: coded id and the verbatim spellings reporters use."""

    code: str
    name: str
    verbatims: tuple[str, ...]


def _product(
    code: int, name: str, strength: str, form: str, extra: tuple[str, ...] = ()
) -> CatalogProduct:
    compact = strength.replace(" ", "")
    verbatims = (
        f"{name} {strength} {form}",
        f"{name.upper()} {compact.upper()} {form[:3].upper()}",
        f"{name} {strength}",
        name.lower(),
        *extra,
    )
    return CatalogProduct(f"PRD-{code:04d}", name, verbatims)


PRODUCTS: tuple[CatalogProduct, ...] = (
    _product(
        1, "Aspirin", "100 mg", "tablets", ("Aspirin (acetylsalicylic acid) 100 mg", "ASA 100mg")
    ),
    _product(2, "Atorvastatin", "20 mg", "film-coated tablets", ("Lipitor-generic atorvastatin",)),
    _product(3, "Metformin", "500 mg", "tablets", ("metformin hydrochloride 500mg",)),
    _product(4, "Amoxicillin", "500 mg", "capsules", ("amoxicilline 500 mg",)),
    _product(5, "Omeprazole", "20 mg", "gastro-resistant capsules"),
    _product(6, "Lisinopril", "10 mg", "tablets"),
    _product(7, "Amlodipine", "5 mg", "tablets", ("amlodipine besylate 5mg",)),
    _product(8, "Sertraline", "50 mg", "tablets"),
    _product(9, "Levothyroxine", "75 mcg", "tablets", ("L-thyroxine 75 µg",)),
    _product(10, "Ibuprofen", "400 mg", "tablets", ("Ibuprofène 400 mg",)),
    _product(11, "Paracetamol", "500 mg", "tablets", ("acetaminophen 500 mg", "Paracétamol 500mg")),
    _product(12, "Warfarin", "5 mg", "tablets"),
    _product(13, "Apixaban", "5 mg", "film-coated tablets"),
    _product(14, "Clopidogrel", "75 mg", "tablets"),
    _product(15, "Insulin glargine", "100 units/ml", "solution for injection", ("glargine pen",)),
    _product(16, "Adalimumab", "40 mg", "solution for injection", ("adalimumab 40mg/0.4ml pen",)),
    _product(17, "Pembrolizumab", "25 mg/ml", "concentrate for infusion"),
    _product(18, "Methotrexate", "2.5 mg", "tablets"),
    _product(19, "Prednisolone", "5 mg", "tablets"),
    _product(20, "Salbutamol", "100 mcg", "inhaler", ("albuterol inhaler",)),
    _product(21, "Montelukast", "10 mg", "tablets"),
    _product(22, "Ciprofloxacin", "500 mg", "tablets"),
    _product(23, "Tramadol", "50 mg", "capsules"),
    _product(24, "Gabapentin", "300 mg", "capsules"),
    _product(25, "Quetiapine", "25 mg", "tablets"),
    _product(26, "Escitalopram", "10 mg", "tablets"),
    _product(27, "Rivaroxaban", "20 mg", "tablets"),
    _product(28, "Semaglutide", "1 mg", "solution for injection", ("semaglutide pen 1mg",)),
    _product(29, "Empagliflozin", "10 mg", "tablets"),
    _product(30, "Rosuvastatin", "10 mg", "tablets"),
)

#: Non-company concomitant medicines (verbatim only, no company code).
CONCOMITANTS: tuple[str, ...] = (
    "vitamin D3 1000 IU",
    "folic acid 5 mg",
    "ramipril 5mg",
    "bisoprolol 2.5 mg",
    "pantoprazole 40 mg",
    "furosemide 40 mg",
    "cetirizine 10 mg",
    "oral contraceptive",
    "multivitamin",
    "magnesium supplement",
)


@dataclass(frozen=True, slots=True)
class PreferredTerm:
    """A MedDRA Preferred Term: its real 8-digit code, its term, reporters' verbatims."""

    code: str
    term: str
    verbatims: tuple[str, ...]


def _pt(code: str, term: str, *verbatims: str) -> PreferredTerm:
    return PreferredTerm(code, term, (term.lower(), *verbatims))


PREFERRED_TERMS: tuple[PreferredTerm, ...] = (
    _pt("10019211", "Headache", "severe headache", "head pain", "headaches"),
    _pt("10028813", "Nausea", "feeling sick", "nauseous"),
    _pt("10047700", "Vomiting", "threw up", "vomited twice"),
    _pt("10013573", "Dizziness", "dizzy", "felt dizzy"),
    _pt("10037844", "Rash", "skin rash", "rash on arms"),
    _pt("10037087", "Pruritus", "itching", "itchy skin"),
    _pt("10012735", "Diarrhoea", "diarrhea", "loose stools"),
    _pt("10016256", "Fatigue", "tiredness", "extreme fatigue"),
    _pt("10037660", "Pyrexia", "fever", "high temperature"),
    _pt("10013968", "Dyspnoea", "shortness of breath", "breathlessness"),
    _pt("10046735", "Urticaria", "hives"),
    _pt("10002198", "Anaphylactic reaction", "anaphylaxis"),
    _pt("10003239", "Arthralgia", "joint pain"),
    _pt("10028411", "Myalgia", "muscle pain", "muscle aches"),
    _pt("10022437", "Insomnia", "could not sleep", "sleeplessness"),
    _pt("10041349", "Somnolence", "drowsiness", "sleepy"),
    _pt("10000081", "Abdominal pain", "stomach pain", "belly ache"),
    _pt("10000087", "Abdominal pain upper", "upper abdominal pain", "epigastric pain"),
    _pt("10010774", "Constipation", "constipated"),
    _pt("10011224", "Cough", "dry cough", "coughing"),
    _pt("10020772", "Hypertension", "high blood pressure"),
    _pt("10021097", "Hypotension", "low blood pressure", "BP dropped"),
    _pt("10043071", "Tachycardia", "racing heart", "fast heart rate"),
    _pt("10033557", "Palpitations", "heart pounding"),
    _pt("10008479", "Chest pain", "pain in chest"),
    _pt("10042772", "Syncope", "fainted", "passed out"),
    _pt("10039906", "Seizure", "convulsion", "fit"),
    _pt("10044565", "Tremor", "shaking hands"),
    _pt("10033775", "Paraesthesia", "tingling", "pins and needles"),
    _pt("10002855", "Anxiety", "anxious", "feeling anxious"),
    _pt("10012378", "Depression", "depressed mood"),
    _pt("10010305", "Confusional state", "confusion", "confused"),
    _pt("10019851", "Hepatotoxicity", "liver toxicity"),
    _pt("10072268", "Drug-induced liver injury", "DILI", "liver injury"),
    _pt("10001551", "Alanine aminotransferase increased", "ALT increased", "raised ALT"),
    _pt("10003481", "Aspartate aminotransferase increased", "AST increased"),
    _pt("10069339", "Acute kidney injury", "AKI", "acute renal injury"),
    _pt("10038435", "Renal failure", "kidney failure"),
    _pt("10043554", "Thrombocytopenia", "low platelets"),
    _pt("10029354", "Neutropenia", "low neutrophils"),
    _pt("10002034", "Anaemia", "anemia", "low haemoglobin"),
    _pt("10035664", "Pneumonia", "chest infection"),
    _pt("10040047", "Sepsis", "septicaemia"),
    _pt("10011906", "Death", "died", "patient died"),
    _pt("10028596", "Myocardial infarction", "heart attack", "MI"),
    _pt("10008190", "Cerebrovascular accident", "stroke", "CVA"),
    _pt("10051055", "Deep vein thrombosis", "DVT", "blood clot in leg"),
    _pt("10037377", "Pulmonary embolism", "PE", "clot in lung"),
    _pt("10003658", "Atrial fibrillation", "AF", "irregular heartbeat"),
    _pt("10042033", "Stevens-Johnson syndrome", "SJS"),
    _pt("10002424", "Angioedema", "swollen lips", "facial swelling"),
    _pt("10001760", "Alopecia", "hair loss"),
    _pt("10020642", "Hyperhidrosis", "excessive sweating"),
    _pt("10061428", "Decreased appetite", "loss of appetite"),
    _pt("10047899", "Weight increased", "weight gain"),
    _pt("10047895", "Weight decreased", "weight loss"),
    _pt("10020993", "Hypoglycaemia", "low blood sugar", "hypoglycemia"),
    _pt("10020635", "Hyperglycaemia", "high blood sugar"),
    _pt("10022086", "Injection site pain", "pain at injection site"),
    _pt("10022095", "Injection site reaction", "reaction at injection site"),
    _pt("10033425", "Pain in extremity", "leg pain", "arm pain"),
    _pt("10003988", "Back pain", "lower back pain"),
    _pt("10003549", "Asthenia", "weakness"),
    _pt("10025482", "Malaise", "feeling unwell"),
    _pt("10047513", "Vision blurred", "blurred vision", "blurry vision"),
    _pt("10013709", "Drug ineffective", "did not work", "no effect"),
    _pt("10022004", "Influenza like illness", "flu-like symptoms"),
    _pt("10017955", "Gastrointestinal haemorrhage", "GI bleed", "gastrointestinal bleeding"),
    _pt("10013946", "Dyspepsia", "indigestion"),
    _pt("10030124", "Oedema peripheral", "swollen ankles", "leg swelling"),
    _pt("10015150", "Erythema", "redness"),
    _pt("10020751", "Hypersensitivity", "allergic reaction", "allergy"),
    _pt("10022611", "Interstitial lung disease", "ILD"),
    _pt("10014387", "Electrocardiogram QT prolonged", "QT prolongation", "long QT"),
)

REPORTER_ORGANIZATIONS: tuple[str, ...] = (
    "St. Mary's Hospital",
    "University Medical Center",
    "City General Hospital",
    "Hôpital Saint-Louis",
    "Klinikum Nord",
    "Community Pharmacy",
    "Family Practice Group",
    "Regional Cancer Institute",
    "Karolinska Universitetssjukhuset",
    "Hospital Universitario La Paz",
)

#: Other senders whose identifiers a duplicate report may carry (regulators, partners).
PARTNER_SENDERS: tuple[str, ...] = ("FDA", "EMA", "MHRA", "PMDA", "PARTNERCO", "LICENSEE")

#: Company short names for the default organizations (the middle part of a WWUID).
COMPANY_CODES: dict[str, str] = {"ORG-A": "ACME", "ORG-B": "BOREAL", "ORG-C": "CYGNUS"}

STUDY_ARMS: tuple[str, ...] = ("Arm A: active 10 mg", "Arm B: active 20 mg", "Placebo")
