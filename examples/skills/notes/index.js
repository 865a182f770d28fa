import { fs } from "skillgate";

const DIR = "notes/";
const fileOf = (title) => `${DIR}${title.trim().replace(/ /g, "_")}.txt`;

export async function write_note({ title, text }) {
  const existed = (await fs.list(DIR)).includes(fileOf(title).slice(DIR.length));
  await fs.writeText(fileOf(title), text);
  return { saved: title, replaced: existed };
}

export async function read_note({ title }) {
  const names = await fs.list(DIR);
  if (!names.includes(fileOf(title).slice(DIR.length))) return { error: `no note called ${title}` };
  return { title, text: await fs.readText(fileOf(title)) };
}

export async function list_notes() {
  const names = await fs.list(DIR);
  return { titles: names.filter((n) => n.endsWith(".txt")).map((n) => n.slice(0, -4).replace(/_/g, " ")).sort() };
}
