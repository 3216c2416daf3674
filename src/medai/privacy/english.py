"""PHI patterns, context cues and dictionaries for English notes.

Every detector returns :class:`~medai.privacy.phi.Span` candidates; :func:`find_english`
runs them all. Patterns are validated where a check exists (calendar dates, IP octets, SSN
area/group/serial, NPI Luhn digit); names come from context cues (titles, post-nominal
degrees, relations, "seen by", "Name:" fields) and from the name dictionaries for
"First Last" pairs; every name found is then looked for again in the rest of the note.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Iterator

from medai.privacy.gazetteer import gazetteer
from medai.privacy.phi import Span

__all__ = ["MONTHS", "find_english"]

MONTHS = {m: i + 1 for i, names in enumerate([
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")]) for m in names}  # fmt: skip
_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|" \
         r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"  # fmt: skip
_ORD = r"(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
_FLAGS = re.IGNORECASE

# --- dates ----------------------------------------------------------------------------------
_DATE_NUM = re.compile(r"(?<![\w/.-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?![\w/]|\.\d)")
_DATE_ISO = re.compile(r"(?<![\w/.-])(\d{4})([/.-])(\d{1,2})\2(\d{1,2})(?![\w/]|\.\d)")
_DATE_MD = re.compile(r"(?<![\w/.-])(\d{1,2})/(\d{1,2})(?![\w/]|\.\d)")
_DATE_TEXT = re.compile(
    rf"\b(?:{_MONTH}\.?\s+\d{{1,2}}{_ORD}(?:\s*,?\s*(?:{_YEAR}|'\d{{2}}))?"
    rf"|\d{{1,2}}{_ORD}\s+(?:of\s+)?{_MONTH}\.?(?:\s*,?\s*(?:{_YEAR}|'?\d{{2}}))?"
    rf"|\d{{1,2}}-{_MONTH}-(?:\d{{4}}|\d{{2}})"
    rf"|{_MONTH}\.?\s*,?\s+{_YEAR})\b",
    _FLAGS,
)
_MD_CUES = re.compile(r"(?:\bon|since|from|until|till|thru|through|dated?|dos|seen|visit|"
                      r"appt|appointment|admit(?:ted)?|discharged?|f/u|follow[- ]up|by|"
                      r"before|after|due|edd|lmp|surgery|returns?|note|rn|md|-|\n|^)\s*$", _FLAGS)  # fmt: skip
_NOT_MD_AFTER = re.compile(r"^\s*(?:tabs?|tablets?|caps?|mg|mcg|ml|g\b|units?|puffs?|drops?|"
                           r"strength|power|motor|reflex|pain|scale|score|doses?|of\b|ns\b|"
                           r"%)", _FLAGS)  # fmt: skip
_NOT_MD_BEFORE = re.compile(r"(?:strength|motor|power|reflexes|pain|score|grade|gcs|bp|"
                            r"murmur|ratio|apgars?|take|took|x)\s*:?\s*$", _FLAGS)  # fmt: skip


def _valid_ymd(y: int, m: int, d: int) -> bool:
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


def _year(text: str) -> int:
    y = int(text)
    return y + (2000 if y < 50 else 1900) if len(text) == 2 else y


def _dates(text: str) -> Iterator[Span]:
    for m in _DATE_NUM.finditer(text):
        a, b, y = int(m.group(1)), int(m.group(3)), _year(m.group(4))
        if _valid_ymd(y, a, b) or _valid_ymd(y, b, a):
            if m.group(2) == "." and len(m.group(4)) == 2 and not _valid_ymd(y, b, a):
                continue  # 1.5.10 is more often a version or a value than a date
            yield Span(m.start(), m.end(), "DATE", m.group())
    for m in _DATE_ISO.finditer(text):
        if _valid_ymd(int(m.group(1)), int(m.group(3)), int(m.group(4))):
            yield Span(m.start(), m.end(), "DATE", m.group())
    for m in _DATE_TEXT.finditer(text):
        s = m.group()
        if re.fullmatch(r"may\s+\d.*", s) and s[0] == "m":  # "may 2 ..." (lower case verb)
            continue
        yield Span(m.start(), m.end(), "DATE", s)
    for m in _DATE_MD.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        if not (1 <= a <= 12 and 1 <= b <= 31):
            continue
        before, after = text[max(0, m.start() - 25) : m.start()], text[m.end() : m.end() + 12]
        if _NOT_MD_AFTER.match(after) or _NOT_MD_BEFORE.search(before):
            continue
        timed = re.match(r"[ \t]+\d{1,2}:\d{2}", after)
        if b in (5, 10) and not _MD_CUES.search(before) and not timed:
            continue  # strength 4/5, pain 3/10
        if re.match(r"\s*\d+\s*(?:mg|ml|tab|cap|%)", after, _FLAGS):
            continue
        yield Span(m.start(), m.end(), "DATE", m.group(), "pattern", 0.8)


# --- numbers: phones, SSN, IDs, ages, ZIP ------------------------------------------------------
_PHONE = re.compile(
    r"(?<![\w.-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s*|\d{3}[\s.-])\d{3}[\s.-]\d{4}"
    r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?(?![\w-])",
    _FLAGS,
)
_PHONE_CUE = re.compile(
    r"\b(?:ext\.?|extension|x|pager|beeper|pgr|tel|phone|ph|cell|mobile|fax|call(?:ed)?|"
    r"contact|#)\s*[:#]?\s*(\d{4,5}|\d{3}[\s.-]\d{4}|\d{10})\b",
    _FLAGS,
)
_SSN = re.compile(r"(?<![\w-])(\d{3})-(\d{2})-(\d{4})(?![\w-])")
_SSN_CUE = re.compile(r"\b(?:SSN|SS#|social security(?: number| no\.?)?)\s*[:#]?\s*(\d{9}|\d{3}"
                      r"\s\d{2}\s\d{4})\b", _FLAGS)  # fmt: skip
_ID_LABEL = (
    r"MRN|MR\s?#|MR\s?No\.?|Med(?:ical)?\s+Rec(?:ord)?(?:\s+(?:No\.?|Number|#))?|"
    r"Acc(?:oun)?t\.?(?:\s*(?:No\.?|Number|#))?|Account|Member(?:\s+ID)?|Subscriber(?:\s+ID)?|"
    r"Policy(?:\s+(?:No\.?|Number|#))?|Group(?:\s+(?:No\.?|Number|#))|Plan\s+ID|"
    r"Insurance\s+ID|Medicaid(?:\s+ID)?|Medicare(?:\s+ID)?|MBI|Lic(?:ense|ence)?\.?"
    r"(?:\s+(?:No\.?|Number|#))?|DEA(?:\s*#)?|NPI|Serial(?:\s+(?:No\.?|Number|#))?|S/N|SN|"
    r"Device\s+ID|Model/Serial|Accession(?:\s+(?:No\.?|Number|#))?|Acc\s?#|Specimen(?:\s+"
    r"(?:ID|No\.?|#))?|Case(?:\s+(?:No\.?|Number|#))|Encounter(?:\s+(?:ID|No\.?|#))?|FIN|"
    r"CSN|HAR|Visit\s*(?:ID|#)|Patient\s+ID|Pt\s+ID|ID(?:\s+(?:No\.?|#))?|Claim(?:\s+"
    r"(?:No\.?|Number|#))?|Auth(?:orization)?(?:\s+(?:No\.?|Number|#))?|Ref(?:erence)?\s*#|"
    r"Order\s*#|Unit\s+No\.?|Chart\s*#|Record\s*#|Badge\s*#?|Employee\s+ID|Passport(?:\s+No\.?)?"
)
_ID_CUE = re.compile(rf"\b(?:{_ID_LABEL}|ref|chart|autopsy no\.?|case no\.?|claim|auth)"
                     r"[ \t.]*(?:[:#=]|is|no\.?)?[ \t.]*(?:#[ \t]*)?"
                     r"([A-Z]{0,4}[ -]?\d[\dA-Z-]{2,}(?:[ ]\d{1,5}){0,3}|[A-Z]{1,4}-[A-Z]?\d{4,})\b",
                     _FLAGS)  # fmt: skip
_ID_SHAPE = re.compile(r"(?<![\w./-])(?:[A-Z]{1,4}-?\d{5,}[A-Z0-9-]*|[A-Z]{1,4}\d{0,3}-\d{2,4}-?\d{3,}|"
                       r"\d{7,}(?:-\d+)?)(?![\w/-])")  # fmt: skip
_DEA = re.compile(r"\b[A-Z][A-Z9]\d{7}\b")
_AGE = re.compile(
    r"(?<![\d.])(9\d|1[0-2]\d)(?:\s*|-)(?:y(?:ears?|rs?)?[-\s]?o(?:ld)?\b|y/o|yo\b|y\.o\.?|"
    r"year[- ]old|years? of age|-year|yr)",
    _FLAGS,
)
_AGE_CUE = re.compile(r"\b(?:age[d:]?|aged|age of|at age|turned|turns|turning)\s*:?\s*(9\d|1[0-2]\d)\b",
                      _FLAGS)  # fmt: skip
_AGE_AFTER_NAME = re.compile(
    r"\b[A-Z][a-z]+,[ \t](9\d|1[0-2]\d)(?=,|[ \t](?:yo|y/o|years?|yrs?)\b)"
)
_AGE_SEX = re.compile(r"(?<![\d./-])(9\d|1[0-2]\d)\s?(?:[MF]|y/?o)\b")
_ZIP_AFTER_STATE = re.compile(
    r"\b([A-Z]{2}|[A-Z][a-z]+(?: [A-Z][a-z]+)?)\.?,?\s+(\d{5}(?:-\d{4})?)\b"
)
_ZIP_CUE = re.compile(r"\b(?:zip|zip code|postal code)\s*:?\s*(\d{5}(?:-\d{4})?)\b", _FLAGS)

# --- internet -----------------------------------------------------------------------------------
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>\"')\]]+|\b[\w-]+(?:\.[\w-]+)*\."
                  r"(?:com|org|net|edu|gov|io|us|health|care|info|biz)(?:/[^\s<>\"')\]]*)?\b",
                  _FLAGS)  # fmt: skip
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{1,4}(?![\w]|:[0-9a-f])", _FLAGS)

# --- addresses and places ---------------------------------------------------------------------
_STREET_SUFFIX = (
    r"Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Pike|Trail|Trl|Square|Sq|Loop|Row|Alley|"
    r"Crescent|Cres|Close|Plaza|Path|Run|Pass|Point|Pt|Ridge|Heights|Hts|Grove|Creek|Hollow|"
    r"Bend|Crossing|Xing|Walk|Green|Gardens|Park|Commons|Route|Rte"
)
_STREET_CAPS = (r"STREET|AVENUE|AVE|ROAD|RD|BOULEVARD|BLVD|LANE|LN|DRIVE|HIGHWAY|HWY|PARKWAY|"
                r"PKWY|WAY|PLACE|COURT|TERRACE|CIRCLE")  # fmt: skip
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Z]?[ \t]+(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?[ \t]+)?"
    rf"(?:[A-Z0-9][\w'.-]*[ \t]+){{0,3}}(?:{_STREET_SUFFIX}|{_STREET_CAPS})\.?\b"
    rf"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?"
    rf"(?:[ \t]*,?[ \t]*(?i:Apt|Apartment|Suite|Ste|Unit|Bldg|Building|Fl|Floor|Rm|Room|#)\.?"
    rf"[ \t]*#?[ \t]*[\w-]+)?",
)
_POBOX = re.compile(r"\bP\.?\s?O\.?\s*Box\s+\d+\b", _FLAGS)
_CITY_STATE = re.compile(r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})(?:,[ \t]*([A-Z]{2})\b|[ \t]+"
                         r"([A-Z]{2})(?=[ \t]+\d{5}))")  # fmt: skip
_CITY_PAREN_ZIP = re.compile(r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})[ \t]*\((\d{5}(?:-\d{4})?)\)")
_CAPS_CITY_STATE_ZIP = re.compile(r"\b([A-Z]{3,}(?:[ ][A-Z]{3,}){0,2}),?[ \t]+([A-Z]{2})[ \t]+"
                                  r"(\d{5}(?:-\d{4})?)\b")  # fmt: skip
_CITY_ZIP = re.compile(r"(?:,|\b(?:Rd|St|Ave|Dr|Ln|Ct|Way|Blvd)\.?)[ \t]+([A-Z][a-z]+(?:[ -][A-Z][a-z]+)"
                       r"{0,2}),?[ \t]+(\d{5}(?:-\d{4})?)\b")  # fmt: skip
_CITY_CUE = re.compile(
    r"\b(?:lives? in|living in|resides? in|resident of|from|moved to|born in|native of|"
    r"relocated to|visiting|returned from|traveled to|travelled to|home in|located in|"
    r"town of|city of|county of|in|at|near|to|kids in|family in|home:|, |\()[ \t]*"
    r"((?:[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2}))",
)
_INSTITUTION_WORDS = (
    r"Hospital|Medical Center|Med Ctr|Medical Centre|Health System|Health Center|Healthcare|"
    r"Health Care|Clinic|Clinics|Infirmary|Nursing Home|Nursing Center|Nursing Facility|"
    r"Rehabilitation Center|Rehab Center|Rehabilitation Hospital|Rehab|Hospice|Pharmacy|"
    r"Medical Group|Medical Associates|Associates|Physicians|Family Practice|Family Medicine|"
    r"Pediatrics|Cardiology|Oncology|Surgery Center|Surgical Center|Urgent Care|Care Center|"
    r"Senior Living|Assisted Living|Living Center|Home Health|University|College|School|"
    r"Academy|Elementary|High School|Middle School|Institute|Laboratory|Laboratories|Labs|"
    r"Imaging|Radiology|Dialysis|Memorial|Children's|VA Medical Center|Health|Manor|Village|"
    r"Corporation|Corp|Inc|LLC|Company|Co\.|Industries|Foods|Bank|Church|Center|Centre|"
    r"Neurology|Endocrine|Endocrinology|Orthopedics|Orthopedic Group|Orthopaedics|"
    r"Sports Medicine|Allergy & Asthma|Allergy and Asthma|Dermatology|Urology|Gastroenterology|"
    r"Pulmonology|Nephrology|Rheumatology|Psychiatry|Behavioral Health|Women's Health|"
    r"Eye Care|Vision|Dental|Dentistry|Orthodontics|Podiatry|Chiropractic|Group|Partners|"
    r"Roofing|Construction|Storage|Logistics|Trucking|Motors|Manufacturing|Farms|Dairy|"
    r"Restaurant|Diner|Hotel|Inn|Market|Store|Warehouse|Plant|Mills|North America|Services|"
    r"Solutions|Systems|Technologies|Insurance|Elementary School|High|Preschool|Daycare|"
    r"Day Care|Academy|Kids|Pediatric Associates|Transportation|Transport|Ambulance|"
    r"Funeral Home|Supplies|Supply|Products|Medical Products|Accounting|LLP|ISD|"
    r"School District|Technology|Auto Body|Distribution|Cancer Center|Heart Institute|"
    r"Rehabilitation|Nursing & Rehabilitation|Credit Union|Law Firm|Group Home|House"
)
_INSTITUTION = re.compile(
    rf"\b(?:(?:St\.?|Saint|Mt\.?|Mount)[ \t]+)?(?:[A-Z][\w'&.-]*[ \t]+(?:of[ \t]+(?:the[ \t]+)?)?)"
    rf"{{1,5}}(?:{_INSTITUTION_WORDS})\b(?:[ \t]+(?:of|at|in)[ \t]+[A-Z][\w'.-]*"
    rf"(?:[ \t]+[A-Z][\w'.-]*){{0,2}})?"
)
_ORG_CUE = re.compile(
    r"\b(?i:works? (?:at|for)|worked (?:at|for)|working (?:at|for)|employed (?:at|by|with)|"
    r"employee (?:of|at)|employer[:]?|retired from|job at|student at|attends|enrolled at|"
    r"transferred (?:from|to)|discharged to|admitted to|outside records from|records from|"
    r"sent via|insurer[:]?|pharmacy[:]?|school[:]?|facility[:]?|agency[:]?|"
    r"company[:]?|vendor[:]?|supplier[:]?|dme[:]?|home health[:]?)[ \t]+"
    r"((?:[A-Z][\w'.&-]*|&)(?:[ \t]+(?:[A-Z][\w'.&-]*|&|of|the|de|for)){0,5})"
)
_INSTITUTION_CAPS = re.compile(
    r"\b(?:ST\.?[ ]|SAINT[ ])?(?:[A-Z][A-Z'&.-]+[ ]){1,4}(?:HOSPITAL|MEDICAL CENTER|CARE CENTER|"
    r"SENIOR LIVING|NURSING HOME|NURSING CENTER|CLINIC|REHABILITATION|HOSPICE|HEALTH CENTER|"
    r"HEALTH|PHARMACY|HEALTHCARE|LIVING CENTER|MANOR|MEMORY CARE)\b|"
    r"\b(?:VNA|VISITING NURSE ASSOCIATION) OF(?: [A-Z]+){1,3}\b|"
    r"\bHospital(?:[ ](?:[A-Z][\w'-]*|de|del|la|las|los|y)){1,5}\b"
)
_INSTITUTION_SHORT = re.compile(
    r"\b(?:CVS|Walgreens|Rite Aid|Walmart|Costco|Kroger|Kaiser(?: Permanente)?|"
    r"Mayo Clinic|Cleveland Clinic|Johns Hopkins|Mass General|MGH|UCSF|UCLA|NYU Langone|"
    r"Mount Sinai|Cedars-Sinai|Brigham(?: and Women's)?|Stanford|Vanderbilt|"
    r"Sutter|Dignity|Ascension|Banner|Baylor|Emory|Yale New Haven|Penn Medicine)\b"
)
_GENERIC_INSTITUTION = re.compile(
    r"^(?:the |our |this |your |a |an |outside |local |affiliated |same )?(?:(?:ED|ER|ICU|OR|PACU|"
    r"CCU|MICU|SICU|NICU|Emergency|Inpatient|Outpatient|Primary Care|Main|General|"
    r"Community|Children's|State|Regional|University|Memorial|Veterans|VA|Medical|Nursing|"
    r"Home|Health|Senior|Care|Urgent|Family|Dialysis|Imaging|Radiology|Cardiology|Oncology|"
    r"Pediatrics|Rehab|Rehabilitation|Surgery|Surgical|Physical Therapy|Wound|Sleep|Pain|"
    r"Hospital|Clinic|Center|Pharmacy|School|High|Middle|Elementary|Living|Assisted|Skilled|"
    r"Long[- ]Term|Acute|Behavioral|Mental|Women's|Heart|Cancer|Eye|Dental|Walk-In|Infusion|"
    r"Anticoagulation|Coumadin|Diabetes|Endocrine|Transplant|Liver|Kidney|Renal|Lung|Vein|"
    r"Vascular|Spine|Orthopedic|Ortho|Neurology|Psychiatry|Psychiatric|Addiction|Methadone|"
    r"Hospice|Palliative|Home Health|Hearing|Foot|Skin|Allergy|Travel|Fertility|Lab|Thoracic|"
    r"Hematology|Anticoag|Ophthalmology|Pulmonary|Gastroenterology|Hepatology|Oncology|"
    r"Medical Oncology|Radiation Oncology|Sleep Medicine|Neurology|Endocrinology|"
    r"Laboratory|Specialty|Multispecialty)\s*)+$",
    _FLAGS,
)

# --- names ------------------------------------------------------------------------------------
_UP = "A-ZÀ-ÖØ-ÞĀ-Ž"
_NAME_TOKEN = (rf"(?:[{_UP}](?:[a-zß-öø-ÿā-ž]|[{_UP}](?=[a-z]))+(?:[-'][{_UP}]?[a-zß-öø-ÿā-ž]+)*|"
               rf"[A-Z]'[A-Z][a-z]+|[A-Z]\.)")  # fmt: skip
_NAME_SEQ = rf"{_NAME_TOKEN}(?:[ \t]+{_NAME_TOKEN}){{0,3}}"
_TITLE = re.compile(
    rf"\b(?:Dr|Drs|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Sr|Sister|Nurse|Rev|Fr|Father|Pastor|"
    rf"Judge|Officer|Coach|Capt|Sgt|Mister|Madam)\.?\s+({_NAME_SEQ})"
)
_POSTNOMINAL = re.compile(
    rf"\b({_NAME_SEQ}),?\s+(?:MD|M\.D\.|DO|D\.O\.|RN|R\.N\.|LPN|NP|FNP|ANP|ACNP|APRN|CNP|PA|"
    rf"PA-C|PharmD|RPh|LCSW|MSW|LICSW|PT|DPT|OT|OTR|SLP|CCC-SLP|RD|RRT|DPM|DDS|DMD|CNM|CRNA|"
    rf"PhD|MPH|MBBS|FACC|FACP|CNA|EMT|MA|LMFT|PsyD|BSN|MSN|DNP)\b"
)
_RELATION = (
    r"wife|husband|spouse|partner|fianc[eé]e?|son|daughter|mother|father|mom|dad|mum|brother|"
    r"sister|sibling|grandson|granddaughter|grandmother|grandfather|grandma|grandpa|aunt|uncle|"
    r"niece|nephew|cousin|friend|neighbor|neighbour|caregiver|guardian|poa|hcp|proxy|"
    r"roommate|boyfriend|girlfriend|stepson|stepdaughter|stepmother|stepfather|"
    r"son-in-law|daughter-in-law|mother-in-law|father-in-law|parent|parents|child|children|"
    r"employer|landlord|pastor|case manager|social worker|interpreter|translator"
)
_RELATION_CUE = re.compile(rf"\b(?i:{_RELATION})\b[ \t]*(?:,|\(|:|(?i:named|is|was|name is))?"
                           rf"[ \t]*({_NAME_SEQ})")  # fmt: skip
_VERB_CUE = re.compile(
    rf"\b(?i:seen by|seen with|evaluated by|examined by|discussed with|d/w|spoke (?:with|to)|"
    rf"talked (?:with|to)|called|paged|per|signed by|dictated by|transcribed by|reviewed by|"
    rf"attested by|co-signed by|cosigned by|authenticated by|verified by|read by|performed by|"
    rf"referred by|referred to|consulted|cc|attending|resident|intern|fellow|pcp|provider|"
    rf"physician|surgeon|nurse|rn|np|pa|therapist|pharmacist|patient|pt|name|contact|"
    rf"emergency contact|next of kin|nok|accompanied by|with (?:his|her|their) ({_RELATION})|"
    rf"informant|historian|guarantor|insured|subscriber|electronically signed by|e-signed by|"
    rf"sig|signature|from|to|attn|dear|sincerely|regards|thanks|thank you|re|"
    rf"adjuster|reader|reading|cm|case manager|coordinator|manager|supervisor|"
    rf"charge nurse|doula|midwife|chaplain|dietitian|aide|interpreter|coworker|co-worker|"
    rf"officer|principal|teacher|educator|cde|scribe|assistant|tech|technician|inv|"
    rf"investigator|staff|intake|worker|director|coach|counselor|counsellor|boss|"
    rf"caseworker|navigator|volunteer|decedent|deceased|pathologist|radiologist|"
    rf"pcp|dr)\b[ \t]*[(]?[ \t]*[,:]?"
    rf"[ \t]*(?:Dr\.?[ \t]+)?({_NAME_SEQ})",
)
_NAME_FIELD = re.compile(rf"(?m)^[ \t]*(?i:patient(?:'s)? name|name|pt name|patient|insured|"
                         rf"guarantor|caregiver|contact)[ \t]*[:=][ \t]*({_NAME_SEQ}|"
                         rf"[A-Z][A-Z'-]+,\s*[A-Z][A-Z'-]+(?:\s+[A-Z]\.?)?)")  # fmt: skip
_NAME_AGE = re.compile(rf"({_NAME_SEQ}),?[ \t]+(?:\d{{1,3}}[ \t]?(?:[MF]\b|y/?o\b|yo\b|-?year|"
                       rf"y\.o\.)|\((?:DOB|MRN|age|dob)\b|(?:DOB|MRN)\b)")  # fmt: skip
_CAPS_CUE = re.compile(
    r"\b(?i:dr|doctor|signed(?: by)?|md|rn|np|pa|pathologist|physician|attending|resident|"
    r"decedent|patient|pt|name|provider|pcp|surgeon|radiologist|cosigned by|dictated by|"
    r"electronically signed by|reviewed by|ordered by|nurse|tech|patient label)\b[ \t.]*:?[ \t]*"
    r"((?:[A-Z][A-Z'-]+,?[ \t]+){0,3}[A-Z][A-Z'-]+(?:[ \t]+[A-Z]\b\.?)?)"
)
_NICKNAME = re.compile(r"(?i:goes by|called|aka|a\.k\.a\.|nickname|prefers|baby)[ \t]*[\"“']"
                       r"([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)[\"”']")  # fmt: skip
_LOWER_CUE = re.compile(r"\b(?:dr|pt|mr|mrs|ms|miss|patient|neighbor|neighbour|wife|husband|"
                        r"son|daughter|dtr|mother|father|sister|brother|spoke(?: to| with)?|"
                        r"called|per|fam|family|attending|cm|rn|w/)\.?[ \t]*\(?"
                        r"((?:[a-z]\.[ \t]*)?[a-z][a-z'-]+(?:[ \t]+[a-z][a-z'-]+){0,2})")  # fmt: skip
_LAST_FIRST_CUE = re.compile(r"(?:\b(?:PT|Pt|Patient|PATIENT|Re|RE|Name|NAME)\s*:|[—–])[ \t]*"
                             r"([A-Z][A-Za-z'-]+,[ \t]*[A-Z][A-Za-z'-]+(?:[ \t]+[A-Z]\.?)?)")  # fmt: skip
_INITIALS_ROLE = re.compile(r"(?<![\w.])([A-Z]\.[ ]?[A-Z]\.(?:[ ]?[A-Z]\.)?|[A-Z]{2,3}|[a-z]{2,3})"
                            r"[ ,]+(?:RN|rn|MD|md|NP|np|PA|LPN|lpn|CNA|PT|RT|SW)\b")  # fmt: skip
_SIGNATURE = re.compile(r"(?m)(?:^|[.;]\s+)[—–/-]+[ \t]*([A-Z][a-z]+(?:[ \t]+[A-Z][\w.'-]+){0,2}|"
                        r"[A-Z]\.[ ]?[A-Z][a-z]+|[A-Z]{2,3}|[a-z]{2,3})[ \t]*$")  # fmt: skip
_UNITS = frozenset(["ED", "ER", "ICU", "OR", "PACU", "CCU", "MICU", "SICU", "NICU", "PICU", "ED", "ICU", "RN", "MD", "NP", "PA", "PT", "OT", "RT", "SW", "CM", "GI", "ENT", "OB", "ID", "IR", "IV", "PO", "BP", "HR", "RR", "BMP", "CBC", "CT", "MRI", "ECG", "EKG", "ACE", "ARB", "DNR", "DNI", "CPR", "SNF", "LTC", "ALF", "VNA", "HH", "AM", "PM", "AND", "THE", "FOR", "NO", "YES", "NKA", "NKDA", "PRN", "BID", "TID", "QID", "QD", "QHS", "HS", "ASAP", "STAT", "OK", "ADD", "PER", "VIA", "DR", "MR", "MS"])  # fmt: skip
_LAST_FIRST = re.compile(r"\b([A-Z][A-Za-z'-]+),[ \t]*([A-Z][A-Za-z]+)(?:[ \t]+[A-Z]\.?)?\b")
_CAP_WORD = re.compile(r"\b[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*\b|\b[A-Z]{2,}\b")
_NOT_NAME_WORDS = frozenset(["rev", "fr", "sr", "chaplain", "advisor", "office", "privacy", "user", "baby", "code", "stroke", "echo", "prelim", "instructions", "summary", "patient", "pt", "the", "a", "an", "he", "she", "his", "her", "they", "this", "that", "there", "these", "those", "and", "or", "but", "if", "of", "in", "on", "at", "to", "for", "with", "by", "from", "as", "is", "was", "be", "been", "has", "had", "have", "do", "does", "did", "not", "no", "yes", "mr", "mrs", "ms", "dr", "md", "rn", "np", "pa", "will", "may", "can", "should", "would", "could", "must", "shall", "might", "history", "exam", "plan", "assessment", "impression", "diagnosis", "diagnoses", "hpi", "ros", "pmh", "psh", "fh", "sh", "meds", "medications", "allergies", "labs", "vitals", "note", "notes", "discharge", "admission", "admitted", "today", "yesterday", "tomorrow", "morning", "evening", "night", "day", "week", "month", "year", "follow", "followup", "return", "call", "please", "see", "continue", "start", "stop", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december", "hospital", "clinic", "center", "medical", "health", "unit", "floor", "room", "bed", "er", "ed", "icu", "or", "emergency", "department", "dept", "service", "team", "signed", "dictated", "reviewed", "electronically", "attending", "resident", "intern", "fellow", "nurse", "physician", "surgeon", "provider", "doctor", "family", "mother", "father", "wife", "husband", "son", "daughter", "brother", "sister", "spouse", "partner", "friend", "he's", "she's", "i'm", "we're", "negative", "positive", "normal", "abnormal", "left", "right", "bilateral", "chest", "heart", "lung", "lungs", "abdomen", "head", "neck", "back", "pain", "fever", "cough", "nausea", "vomiting", "diarrhea", "blood", "pressure", "rate", "oxygen", "saturation", "glucose", "insulin", "aspirin", "tylenol", "cardiology", "oncology", "neurology", "radiology", "pathology", "pharmacy", "lab", "laboratory", "social", "work", "case", "management", "physical", "therapy", "occupational", "speech", "home", "health", "hospice", "palliative", "care", "primary", "medicine", "surgery", "internal", "general", "pediatrics", "obstetrics", "gynecology", "psychiatry", "dermatology", "urology", "orthopedics", "ophthalmology", "ent", "gi", "renal", "pulmonary", "endocrine", "infectious", "disease"])  # fmt: skip


_MONTH_WORDS = frozenset(("january", "february", "march", "april", "may", "june", "july",
                          "august", "september", "october", "november", "december"))  # fmt: skip


def _common_words() -> frozenset[str]:
    """Frequent English words (Faker's lorem list) and clinical words: never a name alone."""
    global _COMMON
    if _COMMON is None:
        from medai.core.errors import require

        lorem = require("faker.providers.lorem.en_US", "privacy")
        _COMMON = frozenset(w.lower() for w in lorem.Provider.word_list) | _NOT_NAME_WORDS
    return _COMMON


_COMMON: frozenset[str] | None = None


def _name_spans(
    text: str, start: int, group: str, source: str, score: float, strong: bool = False
) -> Iterator[Span]:
    """Split a matched name sequence at words that cannot be names; yield the name part.

    After a strong cue (a title, a relation) month words count as names ("Mother June").
    """
    words = list(re.finditer(r"[^\W\d_][\w'.-]*", group))
    keep: list[re.Match[str]] = []
    for w in words:
        lw = w.group().lower().rstrip(".")
        if lw in _NOT_NAME_WORDS and not (strong and lw in _MONTH_WORDS and keep == []):
            break
        g = gazetteer()
        if len(lw) > 1 and w.group().isupper() and lw not in g.last_names \
                and lw not in g.first_names:  # MRN, DOB, ...  # fmt: skip
            break
        keep.append(w)
    if keep:
        a, b = keep[0].start(), keep[-1].end()
        value = group[a:b].rstrip(".") if not re.fullmatch(r"[A-Z]\.", group[a:b][-2:]) \
            else group[a:b]  # fmt: skip
        if value and len(value.replace(".", "").strip()) >= 2:
            yield Span(start + a, start + a + len(value), "NAME", value, source, score)


def _names(text: str) -> list[Span]:
    g = gazetteer()
    out: list[Span] = []
    for rx, source, score in ((_TITLE, "context", 0.95), (_POSTNOMINAL, "context", 0.9),
                              (_RELATION_CUE, "context", 0.8), (_NAME_FIELD, "context", 0.9)):  # fmt: skip
        for m in rx.finditer(text):
            out.extend(_name_spans(text, m.start(1), m.group(1), source, score,
                                   strong=rx is not _POSTNOMINAL))  # fmt: skip
    common = _common_words()
    for m in _NAME_AGE.finditer(text):
        words = [w.lower().rstrip(".") for w in m.group(1).split()]
        if not any(w in common for w in words) or any(w in g.first_names for w in words):
            out.extend(_name_spans(text, m.start(1), m.group(1), "context", 0.85))
    for m in _LOWER_CUE.finditer(text):  # "dr hollis", "pt ella mae rutledge"
        words = m.group(1).split()
        keep: list[str] = []
        for w in words:
            if w in common or (w not in g.first_names and w not in g.last_names):
                break
            keep.append(w)
        if keep:
            value = " ".join(keep)
            out.append(Span(m.start(1), m.start(1) + len(value), "NAME", value, "context", 0.7))
    for m in _CAPS_CUE.finditer(text):
        tokens = [t.strip(",.") for t in m.group(1).split()]
        names = [t for t in tokens if t.lower() in g.first_names or t.lower() in g.last_names]
        if names and not any(t.lower() in common and t.lower() not in g.first_names
                             and t.lower() not in g.last_names for t in tokens if len(t) > 1):  # fmt: skip
            value = m.group(1).rstrip(" ,.")
            out.append(Span(m.start(1), m.start(1) + len(value), "NAME", value, "context", 0.8))
    for m in _NICKNAME.finditer(text):
        out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.85))
    for m in _LAST_FIRST_CUE.finditer(text):
        out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.9))
    for m in _INITIALS_ROLE.finditer(text):
        lower = m.group(1).islower()
        role = m.group().rstrip()[-2:]
        if m.group(1).upper() not in _UNITS and not (lower and (m.group(1) in common
                                                                or role.isupper())):  # fmt: skip
            out.append(Span(m.start(1), m.end(1), "NAME", m.group(1), "context", 0.75))
    for m in _SIGNATURE.finditer(text):
        value = m.group(1)
        if value.lower() not in common and value.upper() not in _UNITS:
            out.extend(_name_spans(text, m.start(1), value, "context", 0.75)
                       if value[0].isupper() and not value.isupper() else
                       [Span(m.start(1), m.end(1), "NAME", value, "context", 0.7)])  # fmt: skip
    for m in _VERB_CUE.finditer(text):
        grp = m.lastindex or 0
        if grp >= 1 and m.group(grp):
            first = m.group(grp).split()[0].lower().rstrip(".")
            # after a weak cue ("from", "to", "per") only a dictionary name counts
            weak = m.group().split()[0].lower() in ("from", "to", "per", "patient", "pt",
                                                     "contact", "cc", "dear")  # fmt: skip
            if weak and first not in g.first_names and first not in g.last_names:
                continue
            out.extend(_name_spans(text, m.start(grp), m.group(grp), "context", 0.8))
    for m in _LAST_FIRST.finditer(text):
        last, first = m.group(1).lower(), m.group(2).lower()
        if last in g.last_names and first in g.first_names:
            out.append(Span(m.start(), m.end(), "NAME", m.group(), "dictionary", 0.85))
    # dictionary pairs: First Last, First M. Last (one known part, neither a common word)
    for m in re.finditer(r"\b([A-Z][a-z]+)[ \t]+(?:[A-Z]\.[ \t]+)?([A-Z][a-z]+(?:-[A-Z][a-z]+)?)"
                         r"\b", text):  # fmt: skip
        first, last = m.group(1).lower(), m.group(2).lower()
        known = (first in g.first_names) + (last in g.last_names)
        if first in common or last.split("-")[0] in common:
            known = 2 if first in g.first_names and last in g.last_names and \
                first not in _NOT_NAME_WORDS and last not in _NOT_NAME_WORDS else 0  # fmt: skip
        if known:
            out.append(Span(m.start(), m.end(), "NAME", m.group(), "dictionary",
                            0.8 if known == 2 else 0.6))  # fmt: skip
    return out


@functools.lru_cache(maxsize=1)
def _clinical_words() -> frozenset[str]:
    """Words of clinical vocabulary (ICD-10-CM titles, drug names, the text pillar's terms),
    lower case: a capitalised pair made of them is a heading, not a name."""
    try:
        from medai.text.lexicon import bundled_terms, drug_terms, icd10cm_terms
    except ImportError:
        return frozenset()
    words: set[str] = set()
    terms = [t.term for t in icd10cm_terms()] + [t.term for t in drug_terms()]
    for term in [*terms, *bundled_terms("en")]:
        words.update(w for w in re.findall(r"[a-z]{3,}", term.lower()))
    return frozenset(words)


_UNKNOWN_PAIR = re.compile(r"(?<![\w.'-])([A-Z][a-z]{2,}(?:-[A-Z][a-z]+)?)[ ]([A-Z][a-z]{2,}(?:-[A-Z][a-z]+)?)"
                           r"(?![\w'-]|[ ](?:Hospital|Clinic|Center|Medical|Health|County|Street|"
                           r"Ave|Road|Rd|St|Drive|Dr\b))")  # fmt: skip


def _unknown_pairs(text: str) -> Iterator[Span]:
    """ "Firstname Lastname" where neither word is an ordinary or clinical word."""
    common, clinical, g = _common_words(), _clinical_words(), gazetteer()
    for m in _UNKNOWN_PAIR.finditer(text):
        a, b = m.group(1).lower(), m.group(2).lower()
        if any(w in common or w in clinical or w in _MONTH_WORDS or w.upper() in _UNITS
               or w in g.cities_en or w in g.states_en for w in (a, b)):  # fmt: skip
            continue
        yield Span(m.start(), m.end(), "NAME", m.group(), "dictionary", 0.6)


def _latin_names(text: str) -> list[Span]:
    """Names in Latin script inside a note in another language ("其妻Sarah Thompson"): titles,
    degrees and dictionary first+last pairs only."""
    if not re.search(r"[A-Z][a-z]+[ \t]+[A-Z][a-z]+", text):
        return []
    return [s for s in _names(text) if s.source == "dictionary" or re.search(
        r"(?:Dr|Mr|Mrs|Ms|Miss)\.?\s*$", text[max(0, s.start - 5) : s.start])]  # fmt: skip


def _propagate(text: str, names: list[Span]) -> list[Span]:
    """Every other occurrence of a found name's words (3+ letters, capitalised) in the note."""
    words = set()
    common = _common_words()
    for s in names:
        for w in re.findall(r"[^\W\d_][\w'-]{2,}", s.text):
            if w.lower() not in common:
                words.add(w)
    out: list[Span] = []
    if not words:
        return out
    for m in _WORD.finditer(text):  # one pass over the words (no per-note regex to compile)
        w = m.group()
        while w not in words and "'" in w:  # "O'Brien's" -> "O'Brien"
            w = w[: w.rindex("'")]
        if w in words:
            out.append(Span(m.start(), m.start() + len(w), "NAME", w, "propagated", 0.7))
    return out


_WORD = re.compile(r"(?<![\w-])[^\W\d_][\w'-]{2,}(?<!-)(?![\w-])")


def _places(text: str) -> Iterator[Span]:
    g = gazetteer()
    for m in _ADDRESS.finditer(text):
        yield Span(m.start(), m.end(), "ADDRESS", m.group())
    for m in _POBOX.finditer(text):
        yield Span(m.start(), m.end(), "ADDRESS", m.group())
    for m in _CITY_STATE.finditer(text):
        city, state = m.group(1), m.group(2) or m.group(3)
        if state.lower() in g.states_en:
            # "1590 Tully Rd, Apt 12, San Jose CA": keep the known city at the end
            words = city.split()
            for n in range(len(words)):
                cand = " ".join(words[n:])
                if cand.lower() in g.cities_en or n == len(words) - 1:
                    yield Span(m.end(1) - len(cand), m.end(1), "CITY", cand, "context", 0.9)
                    break
            zip_m = re.match(r"[ \t]+(\d{5}(?:-\d{4})?)\b", text[m.end() :])
            if zip_m:
                yield Span(m.end() + zip_m.start(1), m.end() + zip_m.end(1), "ZIP", zip_m.group(1))
    for m in _CITY_PAREN_ZIP.finditer(text):
        yield Span(m.start(1), m.end(1), "CITY", m.group(1), "context", 0.85)
        yield Span(m.start(2), m.end(2), "ZIP", m.group(2))
    for m in _CAPS_CITY_STATE_ZIP.finditer(text):
        if m.group(2).lower() in g.states_en:
            yield Span(m.start(1), m.end(1), "CITY", m.group(1), "context", 0.85)
            yield Span(m.start(3), m.end(3), "ZIP", m.group(3))
    for m in _CITY_ZIP.finditer(text):
        yield Span(m.start(1), m.end(1), "CITY", m.group(1), "context", 0.85)
        yield Span(m.start(2), m.end(2), "ZIP", m.group(2))
    for m in _CITY_CUE.finditer(text):
        city = m.group(1)
        words = city.split()
        for n in range(len(words), 0, -1):  # the longest known city prefix
            cand = " ".join(words[:n])
            if cand.lower() in g.cities_en:
                yield Span(m.start(1), m.start(1) + len(cand), "CITY", cand, "context", 0.85)
                break
    for m in _ZIP_AFTER_STATE.finditer(text):
        if m.group(1).lower() in g.states_en:
            yield Span(m.start(2), m.end(2), "ZIP", m.group(2))
    for m in _ZIP_CUE.finditer(text):
        yield Span(m.start(1), m.end(1), "ZIP", m.group(1))
    common = _common_words()
    for m in _ORG_CUE.finditer(text):
        value = re.sub(r"(?:[ \t]+(?:of|the|de|for|&))+$", "", m.group(1)).rstrip(".")
        words = value.split()
        if not words or words[0].lower() in common or words[0].lower() in _NOT_NAME_WORDS:
            continue
        if value.isupper() and not re.search(rf"\b(?:{_INSTITUTION_WORDS})\b", value.title()):
            continue  # ICU, TRANSFER FORM, CONSULT
        if value.lower() in g.cities_en or value.lower() in g.states_en:
            continue
        yield Span(m.start(1), m.start(1) + len(value), "INSTITUTION", value, "context", 0.75)
    for rx in (_INSTITUTION, _INSTITUTION_SHORT, _INSTITUTION_CAPS):
        for m in rx.finditer(text):
            value = m.group()
            # drop leading words that are not part of a proper name ("Patient Mercy Hospital")
            lead = re.match(r"(?:(?:The|Our|At|From|To|In|Patient|Pt|Seen|Admitted|Transferred"
                            r"|Discharged|Followed|Referred|Per|Via|By|And|Or|Of|Called)\s+)+",
                            value)  # fmt: skip
            start = m.start() + (lead.end() if lead else 0)
            value = text[start : m.end()]
            if not value or _GENERIC_INSTITUTION.match(value) or len(value) < 4:
                continue
            yield Span(start, m.end(), "INSTITUTION", value, "pattern", 0.85)


def _numbers(text: str) -> Iterator[Span]:
    for m in _PHONE.finditer(text):
        yield Span(m.start(), m.end(), "PHONE", m.group())
    for m in _PHONE_CUE.finditer(text):
        yield Span(m.start(1), m.end(1), "PHONE", m.group(1), "context", 0.9)
    for m in _SSN.finditer(text):
        area, group, serial = m.group(1), m.group(2), m.group(3)
        if area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000":
            yield Span(m.start(), m.end(), "SSN", m.group())
    for m in _SSN_CUE.finditer(text):
        yield Span(m.start(1), m.end(1), "SSN", m.group(1))
    for m in _ID_CUE.finditer(text):
        yield Span(m.start(1), m.end(1), "ID", m.group(1), "context", 0.95)
    for m in _ID_SHAPE.finditer(text):
        yield Span(m.start(), m.end(), "ID", m.group(), "pattern", 0.7)
    for m in _DEA.finditer(text):
        yield Span(m.start(), m.end(), "ID", m.group(), "pattern", 0.8)
    for m in _AGE.finditer(text):
        yield Span(m.start(1), m.end(1), "AGE", m.group(1))
    for rx in (_AGE_CUE, _AGE_SEX, _AGE_AFTER_NAME):
        for m in rx.finditer(text):
            yield Span(m.start(1), m.end(1), "AGE", m.group(1))


def _internet(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield Span(m.start(), m.end(), "EMAIL", m.group())
    for m in _URL.finditer(text):
        value = m.group().rstrip(".,;:")
        if "@" in text[max(0, m.start() - 1) : m.start()]:
            continue  # the domain of an e-mail address
        yield Span(m.start(), m.start() + len(value), "URL", value)
    for m in _IPV4.finditer(text):
        if all(int(g) <= 255 for g in m.groups()):
            yield Span(m.start(), m.end(), "IP", m.group())
    for m in _IPV6.finditer(text):
        try:
            ipaddress.IPv6Address(m.group())
        except ValueError:
            continue
        yield Span(m.start(), m.end(), "IP", m.group())


def find_english(text: str) -> list[Span]:
    """Candidate PHI spans of an English note (overlapping; resolve with :func:`resolve`)."""
    spans = [*_dates(text), *_numbers(text), *_internet(text), *_places(text)]
    names = _names(text) + list(_unknown_pairs(text))
    spans += names
    spans += _propagate(text, names)
    return spans
