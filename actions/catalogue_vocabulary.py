"""The words customers use for the catalogue: categories, features and brands.

:mod:`actions.needs` reads customers' messages with these tables; the seed
catalogue (``actions/data/catalogue.jsonl``) uses the same category keys and
attribute names, and the tests check that the two agree.

Feature patterns are regular expressions matched case-insensitively on word
boundaries; category synonyms and brand aliases are plain phrases in which a
space also matches a hyphen or no space at all ("bean to cup", "bean-to-cup").
"""

from dataclasses import dataclass
from enum import Enum
from typing import Dict, Tuple, Union

AttributeValue = Union[str, int, float, bool]


@dataclass(frozen=True)
class Category:
    """A product category customers can ask for.

    Attributes:
        key: Short key stored with each product, e.g. ``headphones``.
        path: The shop's category path, e.g. ``Electronics > Audio > Headphones``.
        synonyms: Lower-case phrases that name the category in a message.
    """

    key: str
    path: str
    synonyms: Tuple[str, ...]


class FeatureKind(str, Enum):
    """How a feature is judged on a product's attributes."""

    FLAG = "flag"
    """The attribute is true."""
    EQUALS = "equals"
    """The attribute is one of the feature's ``values``."""
    LOW = "low"
    """Smaller is better (noise in dB, weight in grams)."""
    HIGH = "high"
    """Larger is better (battery hours, screen size)."""


@dataclass(frozen=True)
class Feature:
    """A property customers ask for, and the product attributes that show it.

    Attributes:
        key: Stable name, e.g. ``noise_cancelling``; what a ``StatedNeed`` lists.
        attributes: Attribute names that carry the feature, in order of
            preference (a product uses the first one it has).
        kind: How the attribute value is judged.
        patterns: Regular expressions that mention the feature in a message.
        values: For :attr:`FeatureKind.EQUALS`, the values that satisfy it.
    """

    key: str
    attributes: Tuple[str, ...]
    kind: FeatureKind
    patterns: Tuple[str, ...]
    values: Tuple[AttributeValue, ...] = ()


# fmt: off
CATEGORIES: Tuple[Category, ...] = (
    Category(
        "headphones",
        "Electronics > Audio > Headphones",
        ("headphones", "headphone", "earbuds", "earbud", "earphones", "earphone", "headset",
         "headsets", "in-ears", "in ear", "ear buds", "over-ears", "cans", "airpods"),
    ),
    Category(
        "laptops",
        "Electronics > Computers > Laptops",
        ("laptop", "laptops", "notebook", "notebooks", "ultrabook", "ultrabooks", "macbook",
         "macbooks", "chromebook", "chromebooks", "thinkpad", "gaming laptop"),
    ),
    Category(
        "smartphones",
        "Electronics > Phones > Smartphones",
        ("smartphone", "smartphones", "phone", "phones", "mobile", "mobiles", "mobile phone",
         "cell phone", "cellphone", "handset", "iphone", "android phone"),
    ),
    Category(
        "televisions",
        "Electronics > TV & Home Cinema > Televisions",
        ("tv", "tvs", "television", "televisions", "telly", "tellies", "smart tv", "oled tv"),
    ),
    Category(
        "cameras",
        "Electronics > Cameras > Digital cameras",
        ("camera", "cameras", "mirrorless", "dslr", "system camera", "compact camera",
         "action camera", "action cam", "vlogging camera"),
    ),
    Category(
        "smartwatches",
        "Electronics > Wearables > Smartwatches",
        ("smartwatch", "smartwatches", "smart watch", "smart watches", "running watch",
         "gps watch", "fitness watch", "sports watch", "multisport watch", "apple watch",
         "fitness tracker"),
    ),
    Category(
        "coffee_machines",
        "Home & Kitchen > Coffee > Coffee machines",
        ("coffee machine", "coffee machines", "coffee maker", "coffee makers",
         "espresso machine", "espresso machines", "espresso maker", "bean to cup",
         "capsule machine", "filter coffee machine", "espresso"),
    ),
    Category(
        "vacuum_cleaners",
        "Home & Kitchen > Cleaning > Vacuum cleaners",
        ("vacuum cleaner", "vacuum cleaners", "vacuum", "vacuums", "hoover", "hoovers",
         "robot vacuum", "stick vacuum", "robot hoover", "robovac"),
    ),
    Category(
        "dishwashers",
        "Home & Kitchen > Kitchen appliances > Dishwashers",
        ("dishwasher", "dishwashers", "dish washer", "dish washers"),
    ),
    Category(
        "running_shoes",
        "Sports > Running > Running shoes",
        ("running shoes", "running shoe", "runners", "running trainers", "trainers",
         "jogging shoes", "trail shoes", "trail runners", "sneakers", "shoes", "shoe"),
    ),
    Category(
        "backpacks",
        "Outdoor > Bags > Backpacks",
        ("backpack", "backpacks", "rucksack", "rucksacks", "daypack", "daypacks",
         "laptop backpack", "laptop bag", "hiking pack", "travel pack", "trekking pack"),
    ),
    Category(
        "tents",
        "Outdoor > Camping > Tents",
        ("tent", "tents", "family tent", "backpacking tent"),
    ),
    Category(
        "rain_jackets",
        "Outdoor > Clothing > Rain jackets",
        ("rain jacket", "rain jackets", "raincoat", "raincoats", "rain coat", "waterproof jacket",
         "waterproof jackets", "rain shell", "hardshell", "hard shell", "shell jacket", "jacket",
         "jackets", "anorak", "cagoule", "waterproofs"),
    ),
)
"""The categories of the shop, with the words customers use for them."""
# fmt: on

CATEGORY_BY_KEY: Dict[str, Category] = {category.key: category for category in CATEGORIES}

FLAG, EQUALS, LOW, HIGH = FeatureKind.FLAG, FeatureKind.EQUALS, FeatureKind.LOW, FeatureKind.HIGH

# fmt: off
FEATURES: Tuple[Feature, ...] = (
    Feature("noise_cancelling", ("noise_cancelling",), FLAG, (
        r"noise[\s-]*cancel+(?:ing|ling|ation|er)?", r"anc", r"active noise",
        r"block(?:s|ing)? out (?:the )?(?:noise|sound)")),
    Feature("wireless", ("wireless", "cordless"), FLAG, (
        r"wireless", r"bluetooth", r"cordless", r"cable[\s-]?free", r"no (?:cables?|cords?)",
        r"without (?:a )?(?:cable|cord)")),
    Feature("waterproof", ("waterproof",), FLAG, (
        r"water[\s-]?proof", r"water[\s-]?resistant", r"rain[\s-]?proof", r"swim[\s-]?proof",
        r"for swimming", r"tracks? swimming", r"keeps? (?:me |you )?dry")),
    Feature("flat_feet", ("for_flat_feet",), FLAG, (
        r"flat[\s-]?f(?:oo|ee)t(?:ed)?", r"over[\s-]?pronat\w*", r"fallen arch(?:es)?",
        r"low arch(?:es)?", r"collapsed arch(?:es)?")),
    Feature("stability", ("support",), EQUALS, (
        r"stability", r"(?:extra|more|arch) support", r"supportive"), ("stability",)),
    Feature("neutral", ("support",), EQUALS, (
        r"neutral (?:shoes?|runners?|gait|support|feet|foot|pronation)",
        r"(?:i'?m|i am) a neutral"), ("neutral",)),
    Feature("trail", ("terrain",), EQUALS, (
        r"trail", r"off[\s-]?road", r"mountain running"), ("trail",)),
    Feature("wide_fit", ("wide_fit",), FLAG, (
        r"wide[\s-]?fit", r"wide (?:feet|foot|toe[\s-]?box)", r"extra wide")),
    Feature("cushioned", ("cushioning",), EQUALS, (
        r"cushion(?:ed|ing|y)", r"plush", r"soft (?:ride|landing|feel)",
        r"max(?:imal)? cushion"), ("max",)),
    Feature("quiet", ("noise_db",), LOW, (
        r"quiet(?:er|est)?", r"silent", r"low[\s-]noise", r"whisper[\s-]?quiet",
        r"not (?:too |so |very )?loud", r"noiseless")),
    Feature("lightweight", ("weight_g",), LOW, (
        r"light[\s-]?weight", r"ultra[\s-]?light", r"featherweight",
        r"not (?:too |very )?heavy", r"light as possible", r"as light as",
        r"(?:very|really|super|quite|nice and|fairly|pretty|something) light"
        r"(?![\s-]?(?:grey|gray|blue|green|brown|colou?r|use|jog))")),
    Feature("long_battery", ("battery_hours", "runtime_min"), HIGH, (
        r"long[\s-]?(?:lasting )?battery", r"battery life", r"(?:good|great|big|strong) battery",
        r"battery (?:that|which) lasts", r"lasts? (?:all|a full) day", r"all[\s-]day battery",
        r"long (?:run ?time|runtime)")),
    Feature("gps", ("gps",), FLAG, (r"gps", r"navigation", r"maps on")),
    Feature("cellular", ("cellular",), FLAG, (
        r"lte", r"cellular", r"e[\s-]?sim", r"without (?:my|a|the) phone")),
    Feature("oled", ("panel",), EQUALS, (r"(?:qd[\s-]?)?oled",), ("OLED", "QD-OLED")),
    Feature("large_screen", ("screen_inches",), HIGH, (
        r"(?:big|large|huge|massive)(?:ger|st)? (?:screen|display|tv|telly)",)),
    Feature("gaming", ("gaming",), FLAG, (
        r"gaming", r"for games", r"play(?:ing)? games", r"gamer")),
    Feature("touchscreen", ("touchscreen",), FLAG, (r"touch[\s-]?screen", r"2[\s-]in[\s-]1")),
    Feature("good_camera", ("camera_mp",), HIGH, (
        r"(?:good|great|best|excellent|decent) camera", r"camera quality")),
    Feature("fast_charging", ("charging_w",), HIGH, (r"(?:fast|quick|rapid)[\s-]?charg\w*",)),
    Feature("weather_sealed", ("weather_sealed",), FLAG, (
        r"weather[\s-]?seal\w*", r"weather[\s-]?proof", r"dust[\s-]?proof")),
    Feature("flip_screen", ("flip_screen",), FLAG, (
        r"vlog\w*", r"flip(?:[\s-]out)?[\s-]?screen", r"selfie screen",
        r"articulating screen")),
    Feature("milk_frother", ("milk_system",), FLAG, (
        r"milk", r"froth\w*", r"steam wand", r"cappuccinos?", r"lattes?", r"flat whites?")),
    Feature("grinder", ("built_in_grinder",), FLAG, (
        r"grinder", r"grinds?", r"bean[\s-]to[\s-]cup", r"(?:whole|fresh) beans")),
    Feature("robot", ("vacuum_type",), EQUALS, (r"robot(?:ic)?", r"robo[\s-]?vac"), ("robot",)),
    Feature("pet_hair", ("pet_hair",), FLAG, (
        r"pet hair", r"dog hair", r"cat hair", r"pets?", r"dogs?", r"cats?", r"shedding")),
    Feature("freestanding", ("freestanding",), FLAG, (r"free[\s-]?standing",)),
    Feature("integrated", ("integrated",), FLAG, (
        r"(?:fully |semi[\s-])?integrated", r"built[\s-]?in(?! gps| grinder)")),
    Feature("slimline", ("slimline",), FLAG, (
        r"slim[\s-]?line", r"45 ?cm", r"small kitchen", r"narrow")),
    Feature("laptop_sleeve", ("laptop_sleeve",), FLAG, (
        r"laptop (?:sleeve|compartment|pocket)", r"fits? (?:a|my) laptop",
        r"for (?:a |my )?laptop", r"laptop (?:backpack|bag|rucksack)")),
    Feature("rain_cover", ("rain_cover",), FLAG, (r"rain[\s-]?cover",)),
    Feature("four_season", ("seasons",), EQUALS, (
        r"(?:4|four)[\s-]season", r"winter (?:camping|tent)", r"snow"), (4,)),
    Feature("packable", ("packable",), FLAG, (
        r"packable", r"packs? (?:down )?small", r"packs? into (?:its|it's) own pocket",
        r"stuffable", r"stuffs? (?:in)?to")),
    Feature("breathable", ("breathability_g",), HIGH, (
        r"breathab\w*", r"not (?:too )?sweaty", r"(?:doesn'?t|won'?t) get sweaty")),
)
"""Features customers ask for, mapped to the product attributes that show them."""
# fmt: on

FEATURE_BY_KEY: Dict[str, Feature] = {feature.key: feature for feature in FEATURES}

# fmt: off
DEFAULT_BRANDS: Tuple[str, ...] = (
    "Acer", "Adidas", "AEG", "Amazfit", "Apple", "Arc'teryx", "Asics", "ASUS", "Audio-Technica",
    "Beko", "Berghaus", "Beyerdynamic", "Big Agnes", "Bosch", "Bose", "Brooks", "Canon", "Coleman",
    "Columbia", "Coros", "De'Longhi", "Dell", "Deuter", "DJI", "Dyson", "Electrolux", "Eufy",
    "Fairphone", "Fitbit", "Fjällräven", "Fujifilm", "Gaggia", "Garmin", "Google", "GoPro",
    "Gorenje", "Gregory", "Haglöfs", "Helly Hansen", "Hilleberg", "Hisense", "Hoka", "HP",
    "iRobot", "Jabra", "Jack Wolfskin", "JBL", "Jura", "Lenovo", "LG", "Mammut", "Marmot",
    "Melitta", "Microsoft", "Miele", "Mizuno", "Moccamaster", "Montane", "Motorola", "MSR",
    "Naturehike", "Neff", "Nemo", "New Balance", "Nike", "Nikon", "Nordisk", "Norrøna",
    "OM System", "OnePlus", "Osprey", "Panasonic", "Patagonia", "Peak Design", "Philips", "Polar",
    "Quechua", "Rab", "Rancilio", "Robens", "Roborock", "Rowenta", "Sage", "Salomon", "Samsung",
    "Saucony", "Sennheiser", "Shark", "Shokz", "Siemens", "Sony", "Suunto", "TCL",
    "The North Face", "Thule", "Vango", "Vaude", "Whirlpool", "Xiaomi",
)
"""Brands :func:`actions.needs.parse_need` knows when it is given no brand list."""
# fmt: on

BRAND_ALIASES: Dict[str, Tuple[str, ...]] = {
    "Apple": ("iphone", "ipad", "macbook", "airpods", "apple watch"),
    "ASUS": ("zenbook", "vivobook", "rog"),
    "Bose": ("quietcomfort",),
    "Dell": ("xps", "inspiron"),
    "Fjällräven": ("fjallraven", "kanken", "kånken"),
    "Garmin": ("forerunner", "fenix", "fēnix"),
    "Google": ("pixel",),
    "Haglöfs": ("haglofs",),
    "Hoka": ("hoka one one",),
    "Lenovo": ("thinkpad", "ideapad"),
    "Norrøna": ("norrona",),
    "Samsung": ("galaxy",),
    "Sony": ("bravia", "xperia"),
    "The North Face": ("north face", "tnf"),
}
"""Other names for brands: spellings without special letters, product lines."""
