import { net } from "skillgate";

const API = "https://api.github.com";
// The credential is named, never held: the gateway adds the token on the way out.
const auth = { credential: "cred:github" };
const headers = { accept: "application/vnd.github+json", "user-agent": "skillgate-demo" };

export async function list_issues({ repo, limit = 10 }) {
  const res = await net.fetch(`${API}/repos/${repo}/issues?state=open&per_page=${limit}`, { headers, ...auth });
  if (res.status !== 200) return { error: `GitHub answered ${res.status}` };
  return { issues: JSON.parse(res.body).map((i) => ({ number: i.number, title: i.title, url: i.html_url })) };
}

export async function open_issue({ repo, title, body = "" }) {
  const res = await net.fetch(`${API}/repos/${repo}/issues`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ title, body }),
    ...auth,
  });
  if (res.status !== 201) return { error: `GitHub answered ${res.status}` };
  const issue = JSON.parse(res.body);
  return { number: issue.number, url: issue.html_url };
}
