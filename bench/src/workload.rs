//! The event mix: ServiceNow incidents that open, move to In Progress and resolve, with
//! duplicate deliveries sprinkled in, generated up front so that building JSON bodies is
//! not part of what gets timed and both targets receive byte-identical requests.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

const FIXTURE_NEW: &str = include_str!("../../tests/fixtures/servicenow/incident-new.json");
const FIXTURE_IN_PROGRESS: &str =
    include_str!("../../tests/fixtures/servicenow/incident-in-progress.json");
const FIXTURE_RESOLVED: &str =
    include_str!("../../tests/fixtures/servicenow/incident-resolved.json");

/// Incidents each connection keeps open at once. Interleaving several incidents per
/// connection means an incident's next event arrives after other traffic, like a real
/// instance where many tickets are worked on in parallel.
const OPEN_PER_CONNECTION: usize = 4;

/// Duplicates are drawn from this many of a connection's most recent deliveries: ServiceNow
/// retries soon after a timeout, not hours later.
const DUPLICATE_WINDOW: usize = 64;

/// ServiceNow priorities weighted towards the middle, so that both HIGH and LOW alerts exist.
const PRIORITIES: [&str; 7] = ["1", "2", "3", "3", "4", "4", "5"];

#[derive(Debug, Default, Clone, Copy)]
pub struct Mix {
    pub new: u64,
    pub in_progress: u64,
    pub resolved: u64,
    pub duplicates: u64,
}

impl Mix {
    pub fn total(&self) -> u64 {
        self.new + self.in_progress + self.resolved + self.duplicates
    }
}

/// One ordered list of request bodies per connection. A connection sends its list
/// sequentially, waiting for each answer, which is what keeps every incident's events in
/// order: an incident belongs to exactly one connection.
pub struct Plan {
    pub connections: Vec<Vec<Bytes>>,
    pub mix: Mix,
}

impl Plan {
    pub fn len(&self) -> usize {
        self.connections.iter().map(Vec::len).sum()
    }
}

struct Templates {
    stages: [Map<String, Value>; 3],
}

impl Templates {
    fn load() -> Result<Self> {
        let parse = |name: &str, text: &str| -> Result<Map<String, Value>> {
            match serde_json::from_str(text).with_context(|| format!("fixture {name}"))? {
                Value::Object(map) => Ok(map),
                _ => bail!("fixture {name} is not a JSON object"),
            }
        };
        Ok(Self {
            stages: [
                parse("incident-new.json", FIXTURE_NEW)?,
                parse("incident-in-progress.json", FIXTURE_IN_PROGRESS)?,
                parse("incident-resolved.json", FIXTURE_RESOLVED)?,
            ],
        })
    }
}

struct Incident {
    sys_id: String,
    number: String,
    priority: &'static str,
    next_stage: usize,
    mod_count: u32,
}

pub struct PlanSpec {
    pub events: usize,
    pub connections: usize,
    pub duplicate_ratio: f64,
    pub seed: u64,
    /// Keeps incident numbers of separate plans (warm-up, measured run) apart.
    pub number_base: u64,
}

pub fn build(spec: &PlanSpec) -> Result<Plan> {
    if spec.connections == 0 {
        bail!("at least one connection is needed");
    }
    if !(0.0..1.0).contains(&spec.duplicate_ratio) {
        bail!("the duplicate ratio must be in [0, 1)");
    }
    let templates = Templates::load()?;
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut mix = Mix::default();
    let mut next_number = spec.number_base;
    let mut connections = Vec::with_capacity(spec.connections);

    for index in 0..spec.connections {
        let quota =
            spec.events / spec.connections + usize::from(index < spec.events % spec.connections);
        let mut bodies: Vec<Bytes> = Vec::with_capacity(quota);
        let mut open: Vec<Incident> = Vec::with_capacity(OPEN_PER_CONNECTION);

        while bodies.len() < quota {
            if !bodies.is_empty() && rng.gen_bool(spec.duplicate_ratio) {
                let window = bodies.len().min(DUPLICATE_WINDOW);
                let pick = bodies.len() - 1 - rng.gen_range(0..window);
                bodies.push(bodies[pick].clone());
                mix.duplicates += 1;
                continue;
            }
            while open.len() < OPEN_PER_CONNECTION {
                open.push(new_incident(&mut rng, next_number));
                next_number += 1;
            }
            let slot = rng.gen_range(0..open.len());
            let incident = &mut open[slot];
            let stage = incident.next_stage;
            // Real tickets are edited a few times between the notifications we receive.
            if stage > 0 {
                incident.mod_count += rng.gen_range(1..=3);
            }
            bodies.push(render(&templates.stages[stage], incident)?);
            match stage {
                0 => mix.new += 1,
                1 => mix.in_progress += 1,
                _ => mix.resolved += 1,
            }
            incident.next_stage += 1;
            if incident.next_stage == templates.stages.len() {
                open.swap_remove(slot);
            }
        }
        connections.push(bodies);
    }
    Ok(Plan { connections, mix })
}

/// `count` New events of distinct incidents, spread over `connections`: each opens an alert.
pub fn new_incidents(count: usize, connections: usize, seed: u64) -> Result<Plan> {
    if connections == 0 {
        bail!("at least one connection is needed");
    }
    let templates = Templates::load()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan = Plan {
        connections: vec![Vec::new(); connections],
        mix: Mix::default(),
    };
    for i in 0..count {
        let incident = new_incident(&mut rng, 5_000_000 + i as u64);
        plan.connections[i % connections].push(render(&templates.stages[0], &incident)?);
        plan.mix.new += 1;
    }
    Ok(plan)
}

fn new_incident(rng: &mut StdRng, number: u64) -> Incident {
    let sys_id = uuid::Builder::from_random_bytes(rng.r#gen())
        .into_uuid()
        .simple()
        .to_string();
    Incident {
        sys_id,
        number: format!("INC{number:07}"),
        priority: PRIORITIES[rng.gen_range(0..PRIORITIES.len())],
        next_stage: 0,
        mod_count: 0,
    }
}

fn render(template: &Map<String, Value>, incident: &Incident) -> Result<Bytes> {
    let mut body = template.clone();
    let text = |s: &str| Value::String(s.to_owned());
    body.insert("sys_id".into(), text(&incident.sys_id));
    body.insert("number".into(), text(&incident.number));
    body.insert("task_effective_number".into(), text(&incident.number));
    body.insert("priority".into(), text(incident.priority));
    body.insert(
        "sys_mod_count".into(),
        Value::String(incident.mod_count.to_string()),
    );
    let bytes = serde_json::to_vec(&Value::Object(body)).context("serialising an event")?;
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(body: &Bytes, name: &str) -> String {
        let v: Value = serde_json::from_slice(body).expect("plan bodies are JSON");
        v[name].as_str().unwrap_or_default().to_owned()
    }

    #[test]
    fn every_incident_starts_new_and_mod_counts_never_drop() {
        let plan = build(&PlanSpec {
            events: 2_000,
            connections: 8,
            duplicate_ratio: 0.1,
            seed: 7,
            number_base: 0,
        })
        .expect("plan");
        assert_eq!(plan.len(), 2_000);
        assert_eq!(plan.mix.total(), 2_000);
        assert!(plan.mix.duplicates > 100 && plan.mix.duplicates < 300);

        // Duplicates repeat an earlier body verbatim; every first delivery must move its
        // incident forward: New, then In Progress, then Resolved, with rising sys_mod_count.
        let mut delivered = std::collections::HashSet::<Bytes>::new();
        let mut progress = std::collections::HashMap::<String, (usize, u32)>::new();
        for conn in &plan.connections {
            for body in conn {
                if !delivered.insert(body.clone()) {
                    continue;
                }
                let sys_id = field(body, "sys_id");
                assert_eq!(sys_id.len(), 32);
                let stage = ["1", "2", "6"]
                    .iter()
                    .position(|s| *s == field(body, "state"))
                    .expect("known state");
                let mods: u32 = field(body, "sys_mod_count").parse().expect("number");
                match progress.get(&sys_id) {
                    None => assert_eq!(stage, 0, "first event of an incident must be New"),
                    Some((last_stage, last_mods)) => {
                        assert_eq!(stage, last_stage + 1);
                        assert!(mods > *last_mods);
                    }
                }
                progress.insert(sys_id, (stage, mods));
            }
        }
    }

    #[test]
    fn same_seed_same_plan() {
        let spec = PlanSpec {
            events: 300,
            connections: 4,
            duplicate_ratio: 0.1,
            seed: 42,
            number_base: 0,
        };
        let a = build(&spec).expect("plan");
        let b = build(&spec).expect("plan");
        assert_eq!(a.connections, b.connections);
    }
}
