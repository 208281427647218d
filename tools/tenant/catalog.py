"""Realistic fixed values: names, applications, devices, places, sign-in outcomes, UEBA activity.

Values are modelled on real Entra ID sign-in logs and Sentinel UEBA rows (error codes, failure
reasons and MFA ``additionalDetails`` texts as Entra writes them; first-party application ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES: Final = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra "
    "Mark Ashley Donald Kimberly Steven Emily Andrew Donna Paul Michelle Joshua Carol Kenneth Amanda Kevin "
    "Melissa Brian Deborah George Stephanie Timothy Rebecca Ronald Laura Jason Sharon Edward Cynthia Jeffrey "
    "Kathleen Ryan Amy Jacob Angela Gary Shirley Nicholas Anna Eric Brenda Jonathan Pamela Stephen Emma Larry "
    "Nicole Justin Helen Scott Samantha Brandon Katherine Benjamin Christine Samuel Debra Gregory Rachel "
    "Alexander Carolyn Frank Janet Raymond Maria Patrick Olivia Jack Heather Dennis Diane Jerry Julie Tyler "
    "Joyce Aaron Victoria Jose Ruth Adam Virginia Nathan Lauren Henry Kelly Zachary Christina Douglas Joan "
    "Peter Evelyn Kyle Judith Noah Andrea Ethan Hannah Jeremy Megan Walter Cheryl Christian Jacqueline Keith "
    "Martha Roger Madison Terry Teresa Austin Gloria Sean Sara Gerald Janice Carl Ann Harold Kathryn Dylan "
    "Abigail Arthur Sophia Lawrence Frances Jordan Jean Jesse Alice Bryan Judy Billy Isabella Bruce Julia "
    "Gabriel Grace Joe Amber Logan Denise Alan Danielle Juan Marilyn Albert Beverly Willie Charlotte Elijah "
    "Natalie Wayne Theresa Randy Diana Vincent Brittany Mason Doris Roy Kayla Ralph Alexis Bobby Lori Russell "
    "Marie Bradley Tiffany Philip Rose Eugene Zoe Louis Anaya Harry Ingrid Sven Yuki Hiroshi Priya Ravi Wei "
    "Mei Omar Fatima Ahmed Leila Lars Astrid Mateo Lucia Pierre Amelie Jonas Greta Kofi Amara Diego Camila"
)

LAST_NAMES: Final = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson "
    "Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards "
    "Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey "
    "Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza "
    "Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry "
    "Russell Sullivan Bell Coleman Butler Henderson Barnes Fisher Vasquez Simmons Romero Jordan Patterson "
    "Alexander Hamilton Graham Reynolds Griffin Wallace West Cole Hayes Bryant Herrera Gibson Ellis Tran "
    "Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington "
    "Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter "
    "Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd "
    "Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto "
    "Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Hansen Larsen Nakamura "
    "Tanaka Sato Singh Sharma Wang Zhang Haddad Khan Andersson Johansson Dubois Moreau Becker Schulz "
    "Mensah Okafor Novak Kowalski"
)

# Display names may carry characters that UPNs (ASCII) do not.
DISPLAY_ACCENTS: Final = {"Jose": "José", "Zoe": "Zoë", "Amelie": "Amélie", "Lucia": "Lucía", "Munoz": "Muñoz"}

DEPARTMENTS: Final = ("Finance", "Sales", "Marketing", "Engineering", "IT", "HR", "Legal", "Operations", "Support")
JOB_TITLES: Final = {
    "Finance": ("Accountant", "Financial Analyst", "Controller", "CFO"),
    "Sales": ("Account Executive", "Sales Manager", "Sales Representative"),
    "Marketing": ("Marketing Manager", "Content Strategist", "Designer"),
    "Engineering": ("Software Engineer", "Senior Software Engineer", "Engineering Manager", "SRE"),
    "IT": ("IT Administrator", "Helpdesk Technician", "Cloud Architect", "Security Analyst"),
    "HR": ("HR Generalist", "Recruiter", "HR Director"),
    "Legal": ("Counsel", "Paralegal"),
    "Operations": ("Operations Manager", "Logistics Coordinator", "Facilities Manager"),
    "Support": ("Support Engineer", "Customer Success Manager"),
}
GROUPS: Final = (
    "All Employees",
    "All Company",
    "VPN Users",
    "MFA Enforced",
    "License - M365 E5",
    "License - M365 E3",
    "SharePoint - Intranet Editors",
    "Teams - Project Phoenix",
    "Contractors",
    "Remote Workers",
)
PRIVILEGED_ROLES: Final = (
    "Global Administrator",
    "Security Administrator",
    "User Administrator",
    "Exchange Administrator",
    "Helpdesk Administrator",
    "Global Reader",
)
TAG_VALUES: Final = ("VIP", "Sensitive", "Executive", "Finance-Restricted")


@dataclass(frozen=True, slots=True)
class App:
    name: str
    app_id: str
    resource: str
    resource_id: str
    weight: int
    interactive: bool = True


GRAPH = ("Microsoft Graph", "00000003-0000-0000-c000-000000000000")
EXCHANGE = ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000")
SHAREPOINT = ("Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000")
ARM = ("Windows Azure Service Management API", "797f4846-ba00-4fd7-ba43-dac1f8f63013")
AAD = ("Windows Azure Active Directory", "00000002-0000-0000-c000-000000000000")

APPS: Final = (
    App("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264", *GRAPH, 18),
    App("Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c", *EXCHANGE, 14),
    App("Outlook Mobile", "27922004-5251-4030-b22d-91ecd9a37ea4", *EXCHANGE, 10),
    App("OfficeHome", "4765445b-32c6-49b0-83e6-1d93765276ca", *GRAPH, 9),
    App("Office365 Shell WCSS-Client", "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7", *GRAPH, 7),
    App("SharePoint Online Web Client Extensibility", "08e18876-6177-487e-b8b5-cf950c1e598c", *SHAREPOINT, 6),
    App("Microsoft Edge", "ecd6b820-32c2-49b6-98a6-444530e5a77a", *GRAPH, 6),
    App("Windows Sign In", "38aa3b87-a06d-4817-b275-7a316988d93b", *AAD, 8),
    App("Microsoft Authentication Broker", "29d9ed98-a469-4536-ade2-f981bc1d605e", *AAD, 6),
    App("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", *ARM, 4),
    App("My Signins", "19db86c3-b2b9-44cc-b339-36da233a3be2", *GRAPH, 2),
    App("Microsoft Azure CLI", "04b07795-8ddb-461a-bbee-02f9e1bf7b46", *ARM, 2),
    App("Microsoft Azure PowerShell", "1950a258-227b-4e31-a9cf-717495945fc2", *ARM, 1),
    App("Azure Virtual Desktop Client", "a85cf173-4192-42f8-81fa-777a763e6e2c", *GRAPH, 2, interactive=False),
)


@dataclass(frozen=True, slots=True)
class Device:
    operating_system: str
    browser: str
    user_agent: str
    client_app: str
    trust_type: str
    managed: bool


DEVICES: Final = (
    Device(
        "Windows10",
        "Edge 131.0.2903",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36 Edg/131.0.2903.86",
        "Browser",
        "Azure AD joined",
        True,
    ),
    Device(
        "Windows10",
        "Chrome 131.0.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        "Browser",
        "Hybrid Azure AD joined",
        True,
    ),
    Device(
        "Windows10",
        "Rich Client 5.2.6.0",
        "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.6",
        "Mobile Apps and Desktop clients",
        "Azure AD joined",
        True,
    ),
    Device(
        "MacOs",
        "Safari 18.1",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "Browser",
        "",
        False,
    ),
    Device(
        "Ios 18.1",
        "Mobile Safari 18.1",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        "Mobile Apps and Desktop clients",
        "",
        False,
    ),
    Device(
        "Android 14",
        "Rich Client 4.0.0",
        "Dalvik/2.1.0 (Linux; U; Android 14; SM-S918B Build/UP1A.231005.007)",
        "Mobile Apps and Desktop clients",
        "Azure AD registered",
        True,
    ),
    Device(
        "Linux",
        "Firefox 133.0",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Browser",
        "",
        False,
    ),
)


@dataclass(frozen=True, slots=True)
class Place:
    country: str
    state: str
    city: str
    latitude: float
    longitude: float


HOME_PLACES: Final = (
    Place("US", "Washington", "Redmond", 47.674, -122.121),
    Place("US", "Washington", "Seattle", 47.606, -122.332),
    Place("US", "New York", "New York", 40.713, -74.006),
    Place("US", "Texas", "Austin", 30.267, -97.743),
    Place("GB", "London", "London", 51.507, -0.128),
    Place("DE", "Bayern", "Munich", 48.137, 11.575),
    Place("NL", "Noord-Holland", "Amsterdam", 52.370, 4.895),
    Place("IN", "Karnataka", "Bengaluru", 12.972, 77.595),
    Place("JP", "Tokyo", "Tokyo", 35.690, 139.692),
)
FOREIGN_PLACES: Final = (
    Place("RU", "Moscow", "Moscow", 55.756, 37.617),
    Place("NG", "Lagos", "Lagos", 6.455, 3.394),
    Place("BR", "Sao Paulo", "Sao Paulo", -23.550, -46.633),
    Place("VN", "Ho Chi Minh", "Ho Chi Minh City", 10.823, 106.630),
    Place("RO", "Bucuresti", "Bucharest", 44.427, 26.103),
    Place("CN", "Beijing", "Beijing", 39.904, 116.407),
    Place("ID", "Jakarta", "Jakarta", -6.209, 106.846),
    Place("UA", "Kyiv", "Kyiv", 50.450, 30.523),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One kind of sign-in result: the columns a result type decides."""

    result_type: str
    description: str
    status: Any  # the Status dynamic value (an object, or anything for planted cases)
    conditional_access: str
    requirement: str
    weight: float


def failure(code: int, reason: str, weight: float, details: str | None = None, ca: str = "notApplied") -> Outcome:
    status: dict[str, Any] = {"errorCode": code, "failureReason": reason}
    if details is not None:
        status["additionalDetails"] = details
    requirement = "multiFactorAuthentication" if code in (50074, 50076, 500121) else "singleFactorAuthentication"
    return Outcome(str(code), reason, status, ca, requirement, weight)


MFA_FAILED = "Authentication failed during strong authentication request."

SUCCESSES: Final = (
    Outcome("0", "", {"errorCode": 0}, "success", "singleFactorAuthentication", 55),
    Outcome("0", "", {"errorCode": 0}, "notApplied", "singleFactorAuthentication", 15),
    Outcome(
        "0",
        "",
        {"errorCode": 0, "additionalDetails": "MFA requirement satisfied by claim in the token"},
        "success",
        "multiFactorAuthentication",
        20,
    ),
    Outcome(
        "0",
        "",
        {"errorCode": 0, "additionalDetails": "MFA completed in Azure AD"},
        "success",
        "multiFactorAuthentication",
        8,
    ),
    Outcome(
        "0",
        "",
        {"errorCode": 0, "additionalDetails": "MFA requirement satisfied by strong authentication"},
        "success",
        "multiFactorAuthentication",
        2,
    ),
)

# Failures other than the rule's: other codes, and 500121 with details the rule must not match.
OTHER_FAILURES: Final = (
    failure(50126, "Error validating credentials due to invalid username or password.", 30),
    failure(50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing-in.", 18),
    failure(50074, "Strong Authentication is required.", 14, "MFA required in Azure AD"),
    failure(
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new location, "
        "you must use multi-factor authentication to access the resource.",
        8,
        "MFA required in Azure AD",
    ),
    failure(
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        6,
        ca="failure",
    ),
    failure(50058, "Session information is not sufficient for single-sign-on.", 6),
    failure(
        70044,
        "The session has expired or is invalid due to sign-in frequency checks by conditional access.",
        3,
    ),
    failure(500121, MFA_FAILED, 6, "MFA denied; user did not respond to mobile app notification"),
    failure(500121, MFA_FAILED, 3, "MFA denied; duplicate authentication attempt"),
    failure(500121, MFA_FAILED, 2, "MFA denied; user did not select the correct number"),
    failure(500121, MFA_FAILED, 2, "MFA required in Azure AD"),
    failure(500121, MFA_FAILED, 1, "MFA denied; Phone call not answered"),
    failure(500121, MFA_FAILED, 1),  # no additionalDetails at all
)

DECLINED: Final = "MFA denied; user declined the authentication"
DECLINES: Final = (
    failure(500121, MFA_FAILED, 85, DECLINED),
    failure(500121, MFA_FAILED, 8, "MFA denied; User declined the authentication"),
    failure(500121, MFA_FAILED, 4, "MFA Denied; user declined the authentication"),
    failure(500121, MFA_FAILED, 3, "mfa denied; user declined the authentication"),
)
FRAUD_REPORTS: Final = (
    failure(500121, MFA_FAILED, 50, "MFA denied; Fraud Code entered"),
    failure(500121, MFA_FAILED, 35, "MFA denied; user reported fraud"),
    failure(500121, MFA_FAILED, 15, "MFA denied; Phone App Reported Fraud"),
)


@dataclass(frozen=True, slots=True)
class Activity:
    """A BehaviorAnalytics activity that is not an Entra sign-in."""

    activity_type: str
    action_type: str
    event_source: str
    native_table: str
    weight: int


OTHER_ACTIVITIES: Final = (
    Activity("ProcessTracking", "Process Creation", "SecurityEvent", "SecurityEvent", 40),
    Activity("LogOn", "ResourceAccess", "SecurityEvent", "SecurityEvent", 25),
    Activity("ResourceAccess", "Storage Blob Read", "AzureActivity", "AzureActivity", 15),
    Activity("UserManagement", "Update user", "AuditLogs", "AuditLogs", 10),
    Activity("Administrative", "Create role assignment", "AzureActivity", "AzureActivity", 10),
)
INTERNAL_HOSTS: Final = ("P-APP-WEB01", "P-API-MISC02", "P-SQL-CL01", "P-FS-03", "P-DC-01", "P-RDS-07")
PROCESSES: Final = (
    ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "C:\\Windows\\System32\\cmd.exe"),
    ("C:\\Windows\\System32\\conhost.exe", "C:\\Windows\\System32\\winrshost.exe"),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "C:\\Windows\\explorer.exe"),
)
