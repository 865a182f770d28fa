import { net } from "skillgate";

const BASE = "https://api.open-meteo.com/v1/forecast";

/** Current conditions and daily highs/lows; the only host it can reach is the one in skill.json. */
export async function forecast({ latitude, longitude, days = 3 }) {
  // The isolate has ECMAScript built-ins only (no URL or URLSearchParams), so build the query by hand.
  const params = {
    latitude,
    longitude,
    current: "temperature_2m,wind_speed_10m",
    daily: "temperature_2m_max,temperature_2m_min",
    forecast_days: days,
    timezone: "UTC",
  };
  const query = Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join("&");
  const res = await net.fetch(`${BASE}?${query}`);
  if (res.status !== 200) return { error: `weather service answered ${res.status}` };
  const body = JSON.parse(res.body);
  return {
    current: { temperatureC: body.current?.temperature_2m, windKmh: body.current?.wind_speed_10m },
    daily: (body.daily?.time ?? []).map((date, i) => ({
      date,
      highC: body.daily.temperature_2m_max?.[i],
      lowC: body.daily.temperature_2m_min?.[i],
    })),
  };
}
