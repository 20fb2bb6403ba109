"""The console in French, keyed by the English text (see i18n.py).

One concern, past 300 lines: one catalogue of every page's strings, which a translator reads
and completes in one place.
"""

CATALOG: dict[str, str] = {
    # Layout and navigation
    "Skip to content": "Aller au contenu",
    "Main": "Principal",
    "Home": "Accueil",
    "Members": "Membres",
    "Messages": "Messages",
    "Audit log": "Journal d'audit",
    "Language": "Langue",
    "Browser's": "Celle du navigateur",
    "Change": "Changer",
    "Sign out": "Se déconnecter",
    "admin": "administrateur",
    "marketer": "marketing",
    "support": "support",
    # Sign-in
    "Sign in": "Se connecter",
    "Sign in to the console": "Connexion à la console",
    "User name": "Nom d'utilisateur",
    "Password": "Mot de passe",
    "Enter your user name and password.": "Saisissez votre nom d'utilisateur et votre mot de passe.",
    "Wrong user name or password.": "Nom d'utilisateur ou mot de passe incorrect.",
    "Too many failed sign-ins. Wait a few minutes and try again.": (
        "Trop d'échecs de connexion. Attendez quelques minutes avant de réessayer."
    ),
    # Home
    "Welcome, {name}": "Bienvenue, {name}",
    "Find a member by id, email or phone; see their story; exit runs, re-send failed messages, change consents.": (
        "Trouver un membre par identifiant, e-mail ou téléphone ; voir son historique ; sortir "
        "d'un parcours, renvoyer un message en échec, modifier un consentement."
    ),
    "Every message sent and not sent, with its reason, filtered by journey, step, channel, status and dates.": (
        "Chaque message envoyé ou non, avec sa raison, filtré par parcours, étape, canal, "
        "statut et dates."
    ),
    "Who did what, and when, in the console and with the users command.": (
        "Qui a fait quoi, et quand, dans la console et avec la commande users."
    ),
    # Errors
    "Not found": "Introuvable",
    "Not for your role": "Non autorisé pour votre rôle",
    "Missing field": "Champ manquant",
    "Invalid field": "Champ invalide",
    "missing or wrong CSRF token": "jeton CSRF absent ou incorrect",
    "expected application/x-www-form-urlencoded": "application/x-www-form-urlencoded attendu",
    "form too large": "formulaire trop volumineux",
    "Check the field: {field}": "Vérifiez le champ : {field}",
    "Back to the console": "Retour à la console",
    # Members
    "Member id": "Identifiant du membre",
    "Member id, email or phone": "Identifiant, e-mail ou téléphone du membre",
    "Find": "Chercher",
    "Members found": "Membres trouvés",
    "More members": "Plus de membres",
    "No member matches.": "Aucun membre ne correspond.",
    "Member {id}": "Membre {id}",
    "Member": "Membre",
    "Profile": "Profil",
    "First name": "Prénom",
    "Email": "E-mail",
    "Phone": "Téléphone",
    "Locale": "Langue",
    "Time zone": "Fuseau horaire",
    "Joined": "Inscription",
    "Purchases": "Achats",
    "Last activity": "Dernière activité",
    "Points and tier": "Points et niveau",
    "Tier": "Niveau",
    "Points": "Points",
    "none": "aucun",
    "Next tier": "Niveau suivant",
    "Expiring next": "Expirent bientôt",
    "Earned, redeemed, expired": "Gagnés, échangés, expirés",
    "Consents": "Consentements",
    "Channel": "Canal",
    "Topic": "Sujet",
    "Status": "Statut",
    "Source": "Source",
    "When": "Quand",
    "No consent decision yet.": "Aucune décision de consentement pour l'instant.",
    "granted": "accordé",
    "revoked": "retiré",
    "Record on the member's behalf": "Enregistrer au nom du membre",
    "Suppressions": "Adresses bloquées",
    "No address of this member is suppressed.": "Aucune adresse de ce membre n'est bloquée.",
    "Journey runs": "Parcours",
    "Run": "Exécution",
    "Journey": "Parcours",
    "Entered": "Entrée",
    "Step": "Étape",
    "Exit": "Sortie",
    "Reason": "Raison",
    "Exit the run": "Sortir du parcours",
    "running": "en cours",
    "This member never entered a journey.": "Ce membre n'est jamais entré dans un parcours.",
    "Failed messages": "Messages en échec",
    "Message": "Message",
    "Re-send": "Renvoi",
    "re-sent as {id}": "renvoyé sous {id}",
    "Retry the send": "Renvoyer",
    "No failed message.": "Aucun message en échec.",
    "Timeline": "Historique",
    "What": "Quoi",
    "Summary": "Résumé",
    "What staff did": "Actions de l'équipe",
    "Who": "Qui",
    "Action": "Action",
    "Details": "Détails",
    "Nothing yet.": "Rien pour l'instant.",
    "The run was exited.": "Le membre est sorti du parcours.",
    "The message was sent again.": "Le message a été renvoyé.",
    "The consent was recorded.": "Le consentement a été enregistré.",
    "The run could not be exited: it may have ended already.": (
        "Impossible de sortir du parcours : il est peut-être déjà terminé."
    ),
    "The message could not be sent again.": "Le message n'a pas pu être renvoyé.",
    # Timeline entry kinds
    "event": "événement",
    "points": "points",
    "tier": "niveau",
    "consent": "consentement",
    "suppression": "blocage",
    "journey_entered": "entrée dans un parcours",
    "journey_step": "étape",
    "journey_exited": "sortie d'un parcours",
    "goal": "objectif atteint",
    "message": "message",
    "not_sent": "non envoyé",
    # Messages
    "Filter": "Filtrer",
    "all": "tous",
    "Reason contains": "La raison contient",
    "From": "Du",
    "To": "Au",
    "Newest first": "Les plus récents d'abord",
    "Created": "Créé",
    "Template": "Modèle",
    "No message matches.": "Aucun message ne correspond.",
    "Older messages": "Messages plus anciens",
    # Message statuses
    "ready": "prêt",
    "sending": "en cours d'envoi",
    "sent": "envoyé",
    "skipped": "non envoyé",
    "deferred": "différé",
    "failed": "en échec",
    "delivered": "distribué",
    "bounced": "rejeté",
    # Users
    "Users": "Utilisateurs",
    "Role": "Rôle",
    "State": "État",
    "disabled": "désactivé",
    "active": "actif",
    "Disable": "Désactiver",
    "Disable {name}": "Désactiver {name}",
    "Add a user": "Ajouter un utilisateur",
    "Password again": "Mot de passe (à nouveau)",
    "Add the user": "Ajouter l'utilisateur",
    "Add console users with a role, or disable them.": (
        "Ajouter des utilisateurs de la console avec un rôle, ou les désactiver."
    ),
    "The two passwords differ.": "Les deux mots de passe diffèrent.",
    # Audit log
    "Target": "Cible",
    "Address": "Adresse",
    "Older entries": "Entrées plus anciennes",
    # Journeys
    "Journeys": "Parcours",
    "Trigger": "Déclencheur",
    "Version": "Version",
    "Entries": "Entrées",
    "A paused journey starts no new runs: triggers that arrive while it is paused are not kept for later. Runs already in flight go on.": (
        "Un parcours en pause ne démarre aucune nouvelle exécution : les déclencheurs reçus "
        "pendant la pause ne sont pas gardés pour plus tard. Les exécutions en cours continuent."
    ),
    "paused by {name} at {at}": "en pause par {name} le {at}",
    "open": "ouvert",
    "Pause": "Mettre en pause",
    "Resume": "Reprendre",
    "Pause {id}": "Mettre en pause {id}",
    "Resume {id}": "Reprendre {id}",
    "List the journeys with their figures, diagrams, experiments and versions; pause or resume their entries.": (
        "La liste des parcours avec leurs chiffres, diagrammes, expériences et versions ; "
        "mettre en pause ou reprendre leurs entrées."
    ),
    # A journey's page and the journeys list's figures
    "Show": "Afficher",
    "Entered and converted from {first} to {last} (UTC days), from the daily rollup": (
        "Entrées et conversions du {first} au {last} (jours UTC), d'après le cumul quotidien"
    ),
    "complete up to {day}": "complet jusqu'au {day}",
    "not rolled up yet": "pas encore cumulé",
    "in progress: now": "en cours : maintenant",
    "In progress": "En cours",
    "Converted": "Converties",
    "Completed": "Terminées",
    "no goal": "pas d'objectif",
    "Problems in the journey files": "Problèmes dans les fichiers de parcours",
    "The files of {folder}, checked now as `loyalflow journeys validate` does. A file with a problem is not what runs: the journeys above were loaded when the server started, and a restart would refuse the folder until it is fixed.": (
        "Les fichiers de {folder}, vérifiés maintenant comme le fait `loyalflow journeys "
        "validate`. Un fichier qui a un problème n'est pas ce qui tourne : les parcours ci-dessus "
        "ont été chargés au démarrage du serveur, et un redémarrage refuserait le dossier tant "
        "qu'il n'est pas corrigé."
    ),
    "Every journey file is valid.": "Tous les fichiers de parcours sont valides.",
    "File": "Fichier",
    "Line": "Ligne",
    "Column": "Colonne",
    "Problem": "Problème",
    "Journey {id}": "Parcours {id}",
    "This journey's file is gone: the page shows its last published definition.": (
        "Le fichier de ce parcours n'existe plus : la page montre sa dernière définition publiée."
    ),
    "Entries from {first} to {last} (UTC days) and everything that happened to them since; waiting now is now.": (
        "Les entrées du {first} au {last} (jours UTC) et tout ce qui leur est arrivé depuis ; "
        "« en attente » est l'instant présent."
    ),
    "Diagram": "Diagramme",
    "Reached": "Atteinte",
    "Waiting now": "En attente",
    "Sent by {channel}": "Envoyés par {channel}",
    "Opened": "Ouverts",
    "Clicked": "Cliqués",
    "Not sent: {reason}": "Non envoyés : {reason}",
    "Only in earlier versions": "Seulement dans des versions antérieures",
    "Ways out of {id}": "Sorties de {id}",
    "end": "fin",
    "A run ends at once, wherever it is, on:": (
        "Une exécution s'arrête aussitôt, où qu'elle en soit, sur :"
    ),
    "send": "envoi",
    "wait": "attente",
    "wait_for": "attente d'un événement",
    "branch": "embranchement",
    "split": "test A/B",
    "update": "mise à jour",
    "exit": "sortie",
    "email": "e-mail",
    "sms": "SMS",
    "Experiments": "Expériences",
    "step {id}": "étape {id}",
    "Conversion rate": "Taux de conversion",
    "95% interval": "Intervalle à 95 %",
    "Lift vs {control} (points)": "Écart avec {control} (points)",
    "95% interval of the lift": "Intervalle à 95 % de l'écart",
    "control": "témoin",
    "Verdict:": "Verdict :",
    # The experiment's verdict (analytics/experiment_report.py: `verdict`)
    "Not enough data yet: every arm needs at least {minimum} entries ({variant} has {entered}).": (
        "Pas encore assez de données : chaque variante doit compter au moins {minimum} entrées "
        "({variant} en a {entered})."
    ),
    "The journey has no goal, so no arm can win on conversion; see clicks.": (
        "Le parcours n'a pas d'objectif : aucune variante ne peut l'emporter sur la conversion ; "
        "voir les clics."
    ),
    "No variant converts differently from {control} at the 5% level yet.": (
        "Aucune variante ne convertit encore différemment de {control} au seuil de 5 %."
    ),
    "No variant converts differently from {control} at the 5% level yet "
    "(smallest Holm-adjusted p = {p}).": (
        "Aucune variante ne convertit encore différemment de {control} au seuil de 5 % "
        "(plus petite p ajustée par Holm = {p})."
    ),
    "{variant} converts better than {control}: {rate} vs {control_rate} "
    "({lift} points, Holm-adjusted p = {p}).": (
        "{variant} convertit mieux que {control} : {rate} contre {control_rate} "
        "({lift} points, p ajustée par Holm = {p})."
    ),
    "{variant} converts worse than {control}: {rate} vs {control_rate} "
    "({lift} points, Holm-adjusted p = {p}).": (
        "{variant} convertit moins bien que {control} : {rate} contre {control_rate} "
        "({lift} points, p ajustée par Holm = {p})."
    ),
    "This journey has no split step.": "Ce parcours n'a pas d'étape de test A/B.",
    "Versions": "Versions",
    "Published": "Publiée",
    "current": "actuelle",
    "Compare version": "Comparer la version",
    "with version": "avec la version",
    "Compare": "Comparer",
    "From {older} to {newer}": "De {older} à {newer}",
    "added:": "ajouté :",
    "removed:": "supprimé :",
    "The two versions are the same.": "Les deux versions sont identiques.",
    # Templates
    "Templates": "Modèles",
    "Member id (empty: sample data)": "Identifiant du membre (vide : données d'exemple)",
    "the member's": "celle du membre",
    "Preview": "Aperçu",
    "No such template.": "Ce modèle n'existe pas.",
    "No such member.": "Ce membre n'existe pas.",
    "Not a locale of the templates.": "Les modèles n'existent pas dans cette langue.",
    "The test was sent.": "Le test a été envoyé.",
    "The test could not be sent.": "Le test n'a pas pu être envoyé.",
    "Variant": "Variante",
    "Subject": "Objet",
    "The email as HTML": "L'e-mail en HTML",
    "Text part": "Partie texte",
    "Send a test": "Envoyer un test",
    "To address": "Adresse du destinataire",
    "Send the test": "Envoyer le test",
    "The test goes through the real email channel, its subject starts with [Test], and reports leave it out.": (
        "Le test passe par le vrai canal e-mail, son objet commence par [Test] et les rapports "
        "ne le comptent pas."
    ),
    "Choose a member to send a test rendered for them.": (
        "Choisissez un membre pour envoyer un test rédigé pour lui."
    ),
    "SMS": "SMS",
    "{encoding}, {characters} characters, {segments} segment(s)": (
        "{encoding}, {characters} caractères, {segments} segment(s)"
    ),
    "Preview a template for a member and locale; send a test to an address.": (
        "L'aperçu d'un modèle pour un membre et une langue ; envoyer un test à une adresse."
    ),
    "No such template": "Ce modèle n'existe pas",
    "No such member": "Ce membre n'existe pas",
    "The template reads a value no one gave.": "Le modèle lit une valeur que personne n'a donnée.",
    # Dashboard
    "Dashboard": "Tableau de bord",
    "Period": "Période",
    "Last {days} days": "{days} derniers jours",
    "Custom dates": "Dates choisies",
    "Figures by": "Chiffres par",
    "the whole program": "tout le programme",
    "locale": "langue",
    "Dates, when given, replace the preset. Periods are whole days, UTC.": (
        "Les dates, si elles sont saisies, remplacent la période prédéfinie. Les périodes sont "
        "des jours entiers, en UTC."
    ),
    "From {first} to {last} inclusive": "Du {first} au {last} inclus",
    "Day by day": "Jour par jour",
    "{count} days of the period are not rolled up yet: they show as zero.": (
        "{count} jours de la période ne sont pas encore agrégés : ils apparaissent à zéro."
    ),
    "Sends, opens, clicks, conversions and revenue per day": (
        "Envois, ouvertures, clics, conversions et chiffre d'affaires par jour"
    ),
    "Sends": "Envois",
    "Opens": "Ouvertures",
    "Clicks": "Clics",
    "Conversions": "Conversions",
    "Program KPIs": "Indicateurs du programme",
    "Figures as of {moment}": "Chiffres au {moment}",
    "Refresh": "Actualiser",
    "Computing the figures…": "Calcul des chiffres…",
    "The figures could not be computed: {error}": "Les chiffres n'ont pas pu être calculés : {error}",
    "New members": "Nouveaux membres",
    "Active rate": "Taux d'actifs",
    "Repeat purchase rate": "Taux de réachat",
    "Churn rate": "Taux d'attrition",
    "Orders": "Commandes",
    "Revenue": "Chiffre d'affaires",
    "Average order value": "Panier moyen",
    "Purchase frequency": "Fréquence d'achat",
    "Revenue per member": "Chiffre d'affaires par membre",
    "12-month customer value": "Valeur client sur 12 mois",
    "Points issued": "Points émis",
    "Points redeemed": "Points utilisés",
    "Points expired": "Points expirés",
    "Points outstanding": "Points en circulation",
    "Redemption rate": "Taux d'utilisation",
    "Breakage": "Points perdus (breakage)",
    "By {grouping}": "Par {grouping}",
    "Tiers": "Niveaux",
    "Members per tier": "Membres par niveau",
    "Members per tier at the period end; {up} upgrades and {down} downgrades in the period": (
        "Membres par niveau à la fin de la période ; {up} montées et {down} descentes de niveau "
        "pendant la période"
    ),
    "Share": "Part",
    "Cohort retention": "Rétention par cohorte",
    "Share of each join month's members active in each month after joining": (
        "Part des membres de chaque mois d'adhésion actifs chaque mois après leur adhésion"
    ),
    "Month {k}": "Mois {k}",
    "No member joined by the period end.": "Aucun membre inscrit à la fin de la période.",
    "RFM grid": "Grille RFM",
    "Recency": "Récence",
    "Purchasers at the period end by recency (rows) and frequency quintile (columns; 5: most)": (
        "Acheteurs à la fin de la période par récence (lignes) et quintile de fréquence "
        "(colonnes ; 5 : le plus)"
    ),
    "Purchasers at the period end by recency (rows) and monetary quintile (columns; 5: most)": (
        "Acheteurs à la fin de la période par récence (lignes) et quintile de montant "
        "(colonnes ; 5 : le plus)"
    ),
    # Simulate
    "Simulate": "Simuler",
    "Runs a journey for a test member in skipped time: the real workflow and templates, a "
    "throwaway database, nothing sent to anyone.": "Déroule un parcours pour un membre de test en "
    "temps accéléré : le vrai workflow et les vrais modèles, une base jetable, rien n'est envoyé "
    "à personne.",
    "Days": "Jours",
    "Test member": "Membre de test",
    "Consents to {channel}": "Consent au canal {channel}",
    "Or a copy of member (id)": "Ou une copie du membre (identifiant)",
    "Run the simulation": "Lancer la simulation",
    "Simulation of {journey} over {days} days": "Simulation de {journey} sur {days} jours",
    "Day {day} of {days}": "Jour {day} sur {days}",
    "The simulation failed:": "La simulation a échoué :",
    "Done: {sent} sent, {not_sent} not sent, over {days} simulated days.": "Terminé : {sent} "
    "envoyé(s), {not_sent} non envoyé(s), sur {days} jours simulés.",
    "Timeline from {start} UTC": "Chronologie depuis le {start} UTC",
    "Simulated time (UTC)": "Heure simulée (UTC)",
    "Day": "Jour",
    "Outcome": "Résultat",
    "At the end: {points} points, tier {tier}.": "À la fin : {points} points, niveau {tier}.",
    "Unknown journey.": "Parcours inconnu.",
    "This journey cannot be simulated.": "Ce parcours ne peut pas être simulé.",
    "This member's profile cannot be simulated.": "Le profil de ce membre ne peut pas être simulé.",
    "Unknown locale.": "Langue inconnue.",
    "Unknown tier.": "Niveau inconnu.",
    "Days must be a whole number from 1 to 365.": "Le nombre de jours est un entier de 1 à 365.",
    "Your previous simulation is still running.": "Votre simulation précédente est encore en "
    "cours.",
    "received": "reçu",
    "derived": "dérivé",
    "converted": "converti",
    "requested": "demandé",
    "variant": "variante",
    "entered": "entré",
}
