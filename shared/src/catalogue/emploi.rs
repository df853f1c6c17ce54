//! The employment side of the catalogue: job offers, job seekers and concours sessions.

use super::{
    ANNEE, Column, ColumnType as T, Dataset, EMPLOYER_JOIN, EMPLOYEUR_REF, Rule, Unit, code_dim,
    col, measure, opt,
};
use crate::codes;

/// Where a job seeker lives: one of the five départements, or elsewhere.
pub const DEPARTEMENTS_RESIDENCE: &[&str] = &["02", "59", "60", "62", "80", "autre"];

pub const OFFRES: Dataset = Dataset {
    name: "offres",
    description: "offres d'emploi et déclarations de vacance publiées dans l'année, une par offre",
    source: "emploi-territorial, export des offres et déclarations de vacance",
    table: "offres",
    columns: &[
        col("annee", T::Year, "année de publication"),
        col("offre_id", T::Identifier, "numéro de l'offre"),
        col(
            "employeur_id",
            T::Identifier,
            "pseudonyme de l'employeur (hachage salé du SIRET, commun aux cinq CDG)",
        ),
        col(
            "date_publication",
            T::Date { in_year: true },
            "date de publication (dans l'année)",
        ),
        col(
            "date_limite_candidature",
            T::Date { in_year: false },
            "date limite de candidature",
        ),
        col(
            "nature",
            T::Code(codes::NATURES_OFFRE),
            "création ou vacance de poste",
        ),
        col(
            "categorie",
            T::Code(codes::CATEGORIES),
            "catégorie du poste",
        ),
        col("filiere", T::Code(codes::FILIERES), "filière du poste"),
        col(
            "metier",
            T::Code(codes::METIERS),
            "métier (répertoire des métiers territoriaux du CNFPT)",
        ),
        col(
            "temps_travail",
            T::Code(codes::TEMPS_TRAVAIL),
            "temps complet ou non complet",
        ),
        col(
            "ouvert_contractuels",
            T::Code(codes::OUI_NON),
            "poste ouvert aux contractuels",
        ),
        col(
            "statut_offre",
            T::Code(codes::STATUTS_OFFRE),
            "état de l'offre en fin d'année",
        ),
        col(
            "nb_republications",
            T::Int { min: 0, max: 52 },
            "nombre de republications",
        ),
        opt(
            "date_nomination",
            T::Date { in_year: false },
            "date de nomination, pour une offre pourvue",
        ),
        opt(
            "type_nomination",
            T::Code(codes::TYPES_NOMINATION),
            "voie de nomination, pour une offre pourvue",
        ),
    ],
    rules: &[
        Rule::NotAfter {
            first: "date_publication",
            then: "date_limite_candidature",
        },
        Rule::NotAfter {
            first: "date_publication",
            then: "date_nomination",
        },
        Rule::GivenWhen {
            column: "date_nomination",
            by: "statut_offre",
            value: "pourvue",
        },
        Rule::GivenWhen {
            column: "type_nomination",
            by: "statut_offre",
            value: "pourvue",
        },
    ],
    unit: Unit::Employeur,
    unit_sql: "t.employeur_id",
    from_sql: "offres t",
    joins: &[EMPLOYER_JOIN],
    dimensions: &[
        ANNEE,
        code_dim(
            "categorie",
            "t.categorie",
            codes::CATEGORIES,
            "catégorie du poste",
        ),
        code_dim("filiere", "t.filiere", codes::FILIERES, "filière du poste"),
        code_dim("metier", "t.metier", codes::METIERS, "métier du poste"),
        code_dim(
            "nature",
            "t.nature",
            codes::NATURES_OFFRE,
            "création ou vacance",
        ),
        code_dim(
            "temps_travail",
            "t.temps_travail",
            codes::TEMPS_TRAVAIL,
            "temps complet ou non complet",
        ),
        code_dim(
            "statut_offre",
            "t.statut_offre",
            codes::STATUTS_OFFRE,
            "état de l'offre en fin d'année",
        ),
        code_dim(
            "type_nomination",
            "t.type_nomination",
            codes::TYPES_NOMINATION,
            "voie de nomination (offres pourvues)",
        ),
        code_dim(
            "type_employeur",
            "e.type_employeur",
            codes::TYPES_EMPLOYEUR,
            "type de l'employeur",
        ),
    ],
    measures: &[
        measure(
            "pourvue",
            "CASE t.statut_offre WHEN 'pourvue' THEN 1.0 WHEN 'non pourvue' THEN 0.0 END",
            "1 pour une offre pourvue, 0 non pourvue, vide sinon: sa moyenne est le taux de pourvoi",
        ).indicator(),
        measure(
            "nomination_contractuel",
            "CASE WHEN t.type_nomination IS NULL THEN NULL \
             WHEN t.type_nomination = 'contractuel' THEN 1.0 ELSE 0.0 END",
            "1 pour une nomination de contractuel, 0 sinon: sa moyenne est la part des contractuels recrutés",
        ).indicator(),
        measure(
            "nb_republications",
            "t.nb_republications",
            "nombre de republications",
        ),
        measure(
            "delai_pourvoi_jours",
            "(t.date_nomination - t.date_publication)",
            "jours entre publication et nomination (offres pourvues)",
        ),
    ],
    key: &["offre_id"],
    references: &[EMPLOYEUR_REF],
    min_units: 0,
};

pub const DEMANDES: Dataset = Dataset {
    name: "demandes",
    description: "demandes d'emploi (CV) déposées dans l'année et validées par le CDG, une par demande",
    source: "emploi-territorial, export des CV",
    table: "demandes",
    columns: &[
        col("annee", T::Year, "année de dépôt"),
        col("demande_id", T::Identifier, "identifiant de la demande"),
        col(
            "date_depot",
            T::Date { in_year: true },
            "date de dépôt (dans l'année)",
        ),
        col("sexe", T::Code(codes::SEXES), "sexe (F, H)"),
        col(
            "tranche_age",
            T::Code(codes::TRANCHES_AGE),
            "tranche d'âge de 5 ans au dépôt",
        ),
        col(
            "departement_residence",
            T::Code(DEPARTEMENTS_RESIDENCE),
            "département de résidence",
        ),
        col(
            "situation",
            T::Code(codes::SITUATIONS_DEMANDEUR),
            "situation au dépôt",
        ),
        col(
            "niveau_diplome",
            T::Code(codes::NIVEAUX_DIPLOME),
            "plus haut diplôme",
        ),
        col("metier", T::Code(codes::METIERS), "métier recherché"),
        col(
            "categorie_visee",
            T::Code(codes::CATEGORIES),
            "catégorie visée",
        ),
        col(
            "laureat_concours",
            T::Code(codes::OUI_NON),
            "lauréat d'un concours inscrit sur liste d'aptitude",
        ),
    ],
    rules: &[],
    unit: Unit::Demandeur,
    unit_sql: "t.demande_id",
    from_sql: "demandes t",
    joins: &[],
    dimensions: &[
        ANNEE,
        code_dim("sexe", "t.sexe", codes::SEXES, "sexe du demandeur"),
        code_dim(
            "tranche_age",
            "t.tranche_age",
            codes::TRANCHES_AGE,
            "tranche d'âge de 5 ans",
        ),
        code_dim(
            "departement_residence",
            "t.departement_residence",
            DEPARTEMENTS_RESIDENCE,
            "département de résidence",
        ),
        code_dim(
            "situation",
            "t.situation",
            codes::SITUATIONS_DEMANDEUR,
            "situation au dépôt",
        ),
        code_dim(
            "niveau_diplome",
            "t.niveau_diplome",
            codes::NIVEAUX_DIPLOME,
            "plus haut diplôme",
        ),
        code_dim("metier", "t.metier", codes::METIERS, "métier recherché"),
        code_dim(
            "categorie_visee",
            "t.categorie_visee",
            codes::CATEGORIES,
            "catégorie visée",
        ),
        code_dim(
            "laureat_concours",
            "t.laureat_concours",
            codes::OUI_NON,
            "lauréat de concours",
        ),
    ],
    measures: &[measure(
        "laureat",
        "CASE WHEN t.laureat_concours = 'oui' THEN 1.0 ELSE 0.0 END",
        "1 pour un lauréat de concours, 0 sinon: sa moyenne est la part des lauréats",
    )
    .indicator()],
    key: &["demande_id"],
    references: &[],
    min_units: 0,
};

const HEADCOUNT: T = T::Int {
    min: 0,
    max: 100_000,
};

/// The reçus-collés follow-up of a session's lauréats: empty until the CDG knows it (a year,
/// then two years after the liste d'aptitude), so a session is imported again as it becomes
/// known. The share of lauréats not recruited after two years is
/// `en_attente_deux_ans / admis` over the sessions that give it.
const FOLLOW_UP: [Column; 3] = [
    opt(
        "recrutes_un_an",
        HEADCOUNT,
        "lauréats recrutés dans l'année qui suit l'inscription sur liste d'aptitude",
    ),
    opt(
        "en_attente_un_an",
        HEADCOUNT,
        "lauréats encore sur liste, non recrutés, un an après l'inscription",
    ),
    opt(
        "en_attente_deux_ans",
        HEADCOUNT,
        "lauréats encore sur liste, non recrutés, deux ans après l'inscription",
    ),
];

pub const CONCOURS: Dataset = Dataset {
    name: "concours",
    description: "sessions de concours et d'examens professionnels organisées dans l'année, une par session et voie, avec le devenir de leurs lauréats (reçus-collés)",
    source: "logiciel de gestion des concours du CDG",
    table: "concours",
    columns: &[
        col("annee", T::Year, "année de la session"),
        col(
            "session_id",
            T::Identifier,
            "identifiant de la session et de la voie",
        ),
        col(
            "cadre_emplois",
            T::Label,
            "cadre d'emplois (et grade) du concours",
        ),
        col("filiere", T::Code(codes::FILIERES), "filière"),
        col("categorie", T::Code(codes::CATEGORIES), "catégorie"),
        col(
            "voie",
            T::Code(codes::VOIES_CONCOURS),
            "voie du concours, ou examen professionnel",
        ),
        col("postes_ouverts", HEADCOUNT, "postes ouverts"),
        col("inscrits", HEADCOUNT, "candidats inscrits"),
        col(
            "presents",
            HEADCOUNT,
            "candidats présents à la première épreuve",
        ),
        col(
            "admis",
            HEADCOUNT,
            "candidats admis (lauréats, inscrits sur liste d'aptitude pour un concours)",
        ),
        FOLLOW_UP[0],
        FOLLOW_UP[1],
        FOLLOW_UP[2],
    ],
    rules: &[
        Rule::NotAfter {
            first: "presents",
            then: "inscrits",
        },
        Rule::NotAfter {
            first: "admis",
            then: "presents",
        },
        Rule::NotAfter {
            first: "recrutes_un_an",
            then: "admis",
        },
        Rule::NotAfter {
            first: "en_attente_un_an",
            then: "admis",
        },
        Rule::NotAfter {
            first: "en_attente_deux_ans",
            then: "en_attente_un_an",
        },
    ],
    unit: Unit::Session,
    unit_sql: "t.session_id",
    from_sql: "concours t",
    joins: &[],
    dimensions: &[
        ANNEE,
        code_dim("filiere", "t.filiere", codes::FILIERES, "filière"),
        code_dim("categorie", "t.categorie", codes::CATEGORIES, "catégorie"),
        code_dim("voie", "t.voie", codes::VOIES_CONCOURS, "voie"),
    ],
    measures: &[
        measure("postes_ouverts", "t.postes_ouverts", "postes ouverts"),
        measure("inscrits", "t.inscrits", "candidats inscrits"),
        measure("presents", "t.presents", "candidats présents"),
        measure("admis", "t.admis", "lauréats"),
        measure(
            "recrutes_un_an",
            "t.recrutes_un_an",
            "lauréats recrutés dans l'année suivant la liste",
        ),
        measure(
            "en_attente_un_an",
            "t.en_attente_un_an",
            "lauréats encore sur liste et non recrutés après un an",
        ),
        measure(
            "en_attente_deux_ans",
            "t.en_attente_deux_ans",
            "lauréats encore sur liste et non recrutés après deux ans (les reçus-collés en \
             devenir)",
        ),
    ],
    key: &["session_id"],
    references: &[],
    min_units: 0,
};
