"""Common English words for the word demo's generated corpus (demo/reviews.py).

Written for this project (no word-frequency package: the one with an English list,
wordfreq, is a 57 MB wheel of many languages under CC BY-SA data, too much for a list the
demo needs once). Everyday words by topic, as a reader of movie reviews meets them, so that
the synthetic run's vocabulary answers for the words people type. `common_words()` gives
them in this order, once each; the planted sentiment and genre words of demo/reviews.py are
kept out of the filler there, not here.
"""

from typing import Dict, Tuple

_TOPICS = {
    "function": """
        the a an and or but if then than so because as of to in on at by for with about
        against between into through during before after above below from up down out off
        over under again further once here there when where why how all any both each few
        more most other some such no nor not only own same too very can will just should
        now i me my myself we our ours ourselves you your yours yourself yourselves he him
        his himself she her hers herself it its itself they them their theirs themselves
        what which who whom this that these those am is are was were be been being have has
        had having do does did doing would could might must shall may yet still also even
        ever never always often sometimes usually maybe perhaps quite rather almost already
        enough though although while until unless since whether either neither instead
        anyway anyhow somehow somewhere anywhere everywhere nowhere everyone everybody
        everything someone somebody something anyone anybody anything nobody nothing none
        another else much many less least several plenty lot lots whole half
    """,
    "time": """
        time day night morning evening afternoon noon midnight today tonight tomorrow
        yesterday week weekend month year decade century moment minute second hour season
        spring summer autumn fall winter monday tuesday wednesday thursday friday saturday
        sunday january february march april june july august september october november
        december early late soon recently lately later past future present ago
        daily weekly yearly forever meanwhile afterwards beginning middle end start finish
        birthday holiday christmas easter vacation anniversary calendar clock schedule
    """,
    "people": """
        man woman men women boy girl child children baby kid person people adult teenager
        parent brother sister son aunt uncle cousin grandmother grandfather grandma
        grandpa husband wife boyfriend girlfriend neighbor neighbour stranger guest host
        crowd audience fan fans viewer viewers critic critics reviewer public citizen
        member leader king queen prince princess lord lady gentleman sir madam boss
        teacher student doctor nurse lawyer judge police officer soldier sailor pilot
        driver farmer worker engineer scientist artist writer author poet singer dancer
        musician painter photographer journalist reporter priest chef cook baker waiter
        manager owner customer client partner colleague team group crew staff employee
        president minister politician senator mayor governor captain general sergeant
        hero villain victim witness detective agent spy thief criminal prisoner guard
        stranger orphan widow twin twins teenagers youngster elder elders ancestor
    """,
    "body": """
        body head face eye eyes ear ears nose mouth lips tooth teeth tongue hair neck
        shoulder shoulders arm arms hand hands finger fingers thumb chest back stomach
        leg legs knee knees foot feet toe toes skin bone bones blood brain voice breath
        smile laugh tears cry sweat sleep dream health illness disease fever cold cough
        headache pain injury wound scar medicine pill hospital clinic surgery
    """,
    "home": """
        home house apartment flat room bedroom kitchen bathroom garden yard garage roof
        wall walls floor ceiling door doors window windows stairs hall corner furniture
        table chair chairs sofa couch bed desk shelf lamp light lights mirror carpet
        curtain curtains pillow blanket closet drawer cupboard fridge oven stove sink
        shower bath towel soap toilet key keys lock box bag basket bottle cup glass
        plate bowl spoon fork knife pan pot kettle candle clock picture photo frame
        fence gate porch basement attic chimney fireplace balcony
    """,
    "food": """
        food meal breakfast lunch dinner supper snack bread butter cheese milk cream
        egg eggs meat beef pork chicken fish rice pasta soup salad sandwich pizza burger
        fries potato potatoes tomato tomatoes onion garlic carrot carrots bean beans pea
        peas corn fruit apple apples banana bananas orange oranges lemon grape grapes
        cherry strawberry peach pear melon sugar salt pepper oil honey jam cake cookie
        cookies pie chocolate candy dessert coffee tea juice water wine beer drink
        drinks popcorn restaurant cafe bakery kitchen recipe taste flavor flavour hungry
        thirsty delicious sweetness spicy salty sour bitter fresh cooked baked fried
    """,
    "nature": """
        nature world earth land sea ocean river lake pond stream island beach coast
        shore sand rock rocks stone stones mountain mountains hill hills valley forest
        woods tree trees leaf leaves flower flowers grass plant plants seed seeds root
        field fields farm desert jungle cave sky sun moon star stars cloud clouds rain
        snow ice wind storm thunder lightning fog weather air fire smoke heat wave waves
        animal animals dog dogs cat cats horse horses cow cows pig pigs sheep goat bird
        birds duck chicken eagle owl crow fish shark whale dolphin snake frog mouse
        rat rabbit fox wolf bear lion tiger elephant monkey deer bee bees fly insect
        spider butterfly worm
    """,
    "places": """
        place city town village country countryside state nation capital street road
        avenue highway bridge tunnel corner square park station airport harbor harbour
        port market shop shops store mall bank office building tower church temple
        school college university library museum theater theatre cinema stadium
        gym pool hotel motel inn pub bar club prison jail court factory warehouse
        castle palace embassy hospital camp border north south east west america
        europe africa asia london paris york rome berlin tokyo china india japan
        france germany italy spain russia england britain ireland scotland canada
        mexico brazil australia texas california
    """,
    "travel": """
        car cars bus train plane boat ship bike bicycle taxi truck van motorcycle
        subway ticket tickets trip journey travel flight passenger map road traffic
        engine wheel wheels seat seats speed distance mile miles kilometer direction
        left right straight ahead behind beside inside outside near far away across
        along around toward towards upon within without beyond past
    """,
    "things": """
        thing things object stuff money dollar dollars price cost bill coin coins gift
        present card letter letters note notes paper papers book books page pages
        magazine newspaper news story stories word words name names number numbers
        phone telephone computer laptop screen internet email message camera radio
        television tv video record records tape machine tool tools gun guns sword
        weapon bomb knife rope chain wire pen pencil ink paint brush glue tape
        clothes shirt dress skirt coat jacket hat cap shoe shoes boot boots sock socks
        glove gloves ring necklace watch glasses uniform suit tie belt pocket button
        wallet purse umbrella toy toys doll ball game games puzzle
    """,
    "colours": """
        color colour colors colours red blue green yellow black white grey gray brown
        pink purple orange silver gold golden dark bright pale colorful
    """,
    "numbers": """
        one two three four five six seven eight nine ten eleven twelve thirteen fifteen
        twenty thirty forty fifty hundred thousand million billion first third fourth
        fifth sixth tenth last next single double triple dozen pair couple number zero
    """,
    "work": """
        work job jobs career office business company industry market money salary pay
        meeting project plan plans report reports task tasks problem problems solution
        idea ideas question questions answer answers decision decisions choice choices
        chance opportunity success failure mistake mistakes goal goals result results
        effort experience skill skills training practice lesson lessons test exam class
        classes course homework grade grades subject science history math art music
        language english french spanish german law rule rules system government policy
        economy tax taxes price prices contract deal trade sale sales budget profit
    """,
    "society": """
        society community family history culture tradition religion faith god church
        politics war peace army navy battle fight fighting conflict revolution freedom
        justice power control force law order crime violence danger safety security
        election vote party parties president country government state nation rights
        history empire kingdom colony slavery poverty wealth rich poor class race
        generation age youth childhood adulthood marriage divorce birth death funeral
    """,
    "feelings": """
        feeling feelings emotion emotions mood happy happiness sad sadness angry anger
        afraid fear scared worry worried nervous calm relaxed excited excitement bored
        tired lonely alone proud pride shame ashamed jealous guilty guilt hope hopeful
        hopeless grateful thankful sorry surprise surprised shocked confused curious
        interested interest joy pleasure comfort trust doubt desire need wish wishes
        care caring kindness respect patience courage honest honesty lie lies truth
        secret secrets memory memories mind thought thoughts belief beliefs opinion
        attention sense
    """,
    "describing": """
        good better bad worse big small large little long short tall high low wide
        narrow deep shallow thick thin heavy light fast slow quick early late hard soft
        easy difficult simple complex clear strange odd normal usual unusual common
        rare real true false right wrong full empty open closed hot warm cool cold wet
        dry clean dirty new old young ancient modern recent fresh strong weak loud quiet
        silent rich poor cheap expensive free busy lazy ready sure certain possible
        impossible important main major minor special general particular different
        similar same whole entire complete final total serious funny strange familiar
        famous popular public private personal social natural human local national
        international foreign american british english french
        nice fine okay ok pretty ugly cute handsome smart stupid wise foolish kind cruel
        polite rude brave shy calm wild crazy mad sick healthy safe dangerous dead alive
        lucky unlucky fair unfair careful careless happy glad sorry sad proud
    """,
    "verbs": """
        be have do say said says go went gone going get got gets make made makes know
        knew known think thought take took taken see saw seen come came coming want
        wanted look looked looking use used find found give gave given tell told ask
        asked seem seemed feel felt try tried leave left call called keep kept let begin
        began begun show showed shown hear heard play played run ran move moved live
        lived believe believed hold held bring brought happen happened write wrote
        written sit sat stand stood lose lost pay paid meet met include included
        continue continued set learn learned change changed lead led understand
        understood watch watched watching follow followed stop stopped create created
        speak spoke spoken read spend spent grow grew grown open opened walk walked
        win won offer offered remember remembered love loved consider considered appear
        appeared buy bought wait waited serve served die died send sent expect expected
        build built stay stayed fall fell cut reach reached kill killed remain remained
        suggest suggested raise raised pass passed sell sold require required decide
        decided return returned explain explained develop developed carry carried break
        broke broken receive received agree agreed support supported hit produce
        produced eat ate eaten cover covered catch caught draw drew choose chose chosen
        cause caused point pointed listen listened realize realized place placed close
        closed drive drove driven wear wore worn sing sang dance danced laugh laughed
        cry cried smile smiled kiss kissed hug hugged hate hated enjoy enjoyed like
        liked prefer preferred hope hoped wonder wondered imagine imagined forget
        forgot forgotten forgive forgave miss missed teach taught study studied sleep
        slept wake woke dream dreamed jump jumped climb climbed swim swam fly flew
        throw threw push pushed pull pulled shoot shot fight fought hide hid hunt
        hunted chase chased escape escaped save saved help helped protect protected
        attack attacked destroy destroyed steal stole rescue rescued marry married
        travel traveled visit visited arrive arrived return cook cooked clean cleaned
        wash washed fix fixed finish finished start started plan planned prepare
        prepared manage managed discover discovered explore explored notice noticed
        describe described mention mentioned admit admitted deny denied refuse refused
        accept accepted allow allowed avoid avoided reveal revealed recognize
        recognized pretend pretended
    """,
    "sports": """
        sport sports football soccer baseball basketball tennis golf hockey boxing
        wrestling racing race races running swimming skiing cycling match matches
        player players coach referee score scores goal champion championship league
        season trophy medal olympics stadium field court ball bat racket win wins loss
        losses victory defeat tournament training workout
    """,
    "abstract": """
        way ways part parts side sides kind kinds sort type types level levels point
        points fact facts case cases example reason reasons purpose meaning sense
        matter matters issue issues situation condition conditions event events
        effect effects action actions activity process method approach view views
        side role value values quality quantity amount size shape form pattern
        style design structure feature features detail details element elements
        aspect aspects factor factors source sources basis background context
        relationship relationships connection difference differences change changes
        development growth increase decrease rise drop loss gain benefit risk risks
        advantage disadvantage balance limit limits range rate rates degree degrees
        chance fortune luck fate destiny future past reality fantasy image images
        sound sounds noise silence light darkness shadow shadows color beauty
        talent genius skill energy strength weakness spirit soul life lives living
        death world universe space planet
    """,
    "adverbs": """
        really actually simply clearly certainly probably possibly definitely
        exactly nearly hardly barely mostly mainly partly fully totally completely
        entirely absolutely extremely highly deeply truly fairly slightly somewhat
        especially particularly generally basically seriously honestly obviously
        apparently suddenly slowly quickly quietly loudly carefully easily finally
        eventually immediately originally recently previously currently rarely
        frequently constantly literally virtually relatively incredibly surprisingly
        unfortunately fortunately hopefully luckily sadly strangely oddly together
        apart alone abroad upstairs downstairs indoors outdoors tonight meanwhile
        otherwise therefore however besides moreover nevertheless
    """,
    "more_verbs": """
        add added apply applied argue argued arrange arranged attend attended
        bake baked beat beaten become became behave behaved belong belonged bend
        bite bit blame blamed bleed bled blow blew borrow borrowed bother bothered
        breathe breathed burn burned bury buried celebrate celebrated check checked
        cheer cheered collect collected compare compared complain complained
        confess confessed connect connected contain contained copy copied count
        counted crash crashed cross crossed damage damaged deliver delivered depend
        depended deserve deserved dig dug disappear disappeared drag dragged drink
        drank drop dropped earn earned encourage encouraged enter entered exist
        existed explode exploded fail failed fill filled float floated fold folded
        freeze froze gather gathered greet greeted guess guessed hang hung hurry
        hurried hurt ignore ignored improve improved invite invited join joined
        knock knocked land landed last lasted lay lie lied lift lifted light lit
        mark marked matter measure measured mix mixed obey obeyed order ordered own
        owned pack packed paint painted park parked pour poured pray prayed print
        printed promise promised punish punished rain rained repeat repeated reply
        replied rest rested ride rode ring rang rise rose roll rolled rush rushed
        search searched settle settled shake shook share shared shout shouted shut
        sign signed sink sank slip slipped smell smelled solve solved sort sorted
        spell spelled spill spilled spread stare stared steer stretch stretched
        strike struck suffer suffered surround surrounded survive survived swing
        tear tore thank thanked touch touched trace train trained trap trapped
        treat treated trust trusted turn turned wander wandered warn warned waste
        wave waved whisper whispered wish wished worry worried wrap wrapped yell
        yelled
    """,
    "more_things": """
        airplane album anchor apron arrow axe badge balloon bandage banner barrel
        battery beam bench blade bucket cabin cable cage canvas carpet cart castle
        chain chalk cloth collar compass cord costume cradle crown cushion diamond
        diary drum envelope fan feather flag flashlight flute fountain guitar hammer
        helmet hook horn jar jewel ladder lantern leash lens magnet mask medal nail
        needle net organ parcel piano pipe plank pot pump quilt rack rail ribbon
        rifle saddle sail scissors screw shovel statue sword telescope tent ticket
        torch tray trumpet trunk violin wagon whistle
    """,
    "film": """
        movie movies film films cinema scene scenes story plot script screenplay
        dialogue dialog character characters role roles actor actors actress cast
        director directors directing direction producer producers studio camera
        cinematography editing soundtrack score music song songs ending beginning
        opening climax twist twists sequel prequel remake trilogy series episode
        episodes season premiere release budget effects cgi animation cartoon
        documentary drama western musical fantasy adventure mystery crime war history
        biography sports teen indie classic blockbuster franchise version original
        trailer poster premise setting atmosphere tone pace pacing performance
        performances acting lines shot shots frame sequence moment moments minutes
        hours runtime theater screen dvd netflix rental oscar award awards nomination
        festival critic review reviews rating ratings star stars hollywood bollywood
        spielberg scorsese kubrick tarantino nolan disney pixar marvel
    """,
}


def common_words() -> Tuple[str, ...]:
    """Every word of the topics above, lower case, in order, each once."""
    seen: Dict[str, None] = {}  # an ordered set
    for text in _TOPICS.values():
        for word in text.split():
            seen.setdefault(word, None)
    return tuple(seen)
